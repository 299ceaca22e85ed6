"""Errors of the SDK: one exception per gRPC status code a caller acts on.

Every failed call raises a BridgeError (or a subclass) carrying the status
code and the bridge's message, which names the field, limit or device:

    try:
        bridge.send(device_id, command)
    except hivebridge_client.NotFound:          # device not connected
        ...
    except hivebridge_client.BridgeError as e:  # anything else
        print(e.code.name, e.details)
"""

import grpc


class BridgeError(Exception):
    """A call failed with gRPC status `code` and the bridge's `details`."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code.name, details))
        self.code = code
        self.details = details


class Unauthenticated(BridgeError):
    """No token, or one the bridge's backend policy does not know."""


class PermissionDenied(BridgeError):
    """The caller's grant does not cover the account it named."""


class NotFound(BridgeError):
    """The device is not connected (or not visible to this caller)."""


class InvalidArgument(BridgeError):
    """A bad id, payload or filter; `details` names the field."""


class DeadlineExceeded(BridgeError):
    """The deadline passed first; with a request_id, the request may still be in flight."""


class ResourceExhausted(BridgeError):
    """A bridge limit bit; `details` names it. Retry later."""


class Aborted(BridgeError):
    """The device's connection closed after the request was written: it may have it."""


class Unavailable(BridgeError):
    """The bridge could not be reached, or the request was certainly not delivered."""


class Unimplemented(BridgeError):
    """This bridge does not implement the method (an older bridge)."""


_BY_CODE = {
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def from_rpc_error(error):
    """The BridgeError for a grpc.RpcError (sync or aio)."""
    code = error.code()
    return _BY_CODE.get(code, BridgeError)(code, error.details() or "")
