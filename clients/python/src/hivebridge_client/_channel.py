"""Channel set-up shared by the sync and asyncio clients: TLS, keepalive and
the bearer token.

The token travels as `authorization: Bearer <token>` metadata on every call
(the bridge's --backend-policy-file matches its SHA-256). It is added per
call rather than as call credentials so that it also works on a plaintext
channel to a local bridge; over a network use TLS, or the token is readable
on the wire.
"""

from dataclasses import dataclass
from typing import Optional

import grpc

# Keepalive: while a call is open (a SubscribeEvents stream), ping after
# 60 s without traffic, so a dead bridge or a dropped NAT entry is noticed and
# the stream resumes within about 80 s instead of the kernel's hours. Never
# sooner than the bridge's --grpc-min-ping-interval (default 30 s), and not
# on idle connections unless the bridge permits it
# (--grpc-permit-keepalive-without-calls): either would count as ping
# strikes and get the connection closed.
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
    # Reconnect to a restarted bridge within 10 s, not gRPC's default 120 s.
    ("grpc.max_reconnect_backoff_ms", 10_000),
]


@dataclass(frozen=True)
class TLS:
    """How to verify the bridge, and optionally who we are (mTLS).

    Each field is PEM bytes or a path to a PEM file. With no root_ca the
    system's roots are used. server_name overrides the name checked in the
    bridge's certificate (for a test CA whose certificate names a host other
    than the target).
    """

    root_ca: Optional[object] = None
    client_cert: Optional[object] = None
    client_key: Optional[object] = None
    server_name: Optional[str] = None

    def credentials(self):
        return grpc.ssl_channel_credentials(
            root_certificates=_pem(self.root_ca),
            private_key=_pem(self.client_key),
            certificate_chain=_pem(self.client_cert))

    def options(self):
        if self.server_name:
            return [("grpc.ssl_target_name_override", self.server_name)]
        return []


def _pem(value):
    if value is None or isinstance(value, bytes):
        return value
    with open(value, "rb") as f:
        return f.read()


def channel_args(tls, extra_options):
    """(credentials or None, options) for grpc.secure_channel/insecure_channel."""
    tls = TLS() if tls is True else tls
    options = list(KEEPALIVE_OPTIONS) + (tls.options() if tls else []) + list(extra_options or [])
    return (tls.credentials() if tls else None), options


def call_metadata(token):
    return (("authorization", "Bearer " + token),) if token else ()
