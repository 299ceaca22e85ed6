"""What a resuming subscription remembers and when it reconnects; shared by
the sync and asyncio Subscription classes.

A SubscribeEvents stream never ends by itself. When it does end (the bridge
restarted, a proxy dropped the connection, keepalive found the peer dead),
the subscription opens a new stream with `resume_after` set to the last
event it delivered: the bridge replays what was missed from its history, or
starts with a `gap` event when it cannot (history too short, or a new epoch
after a restart). Errors that a new attempt cannot fix (a wrong token, a bad
filter) are raised instead.
"""

import grpc

from . import _errors, _requests

RESUMABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,          # bridge down or restarting, connection lost
    grpc.StatusCode.RESOURCE_EXHAUSTED,   # --max-subscribers: try again later
    grpc.StatusCode.CANCELLED,            # cancelled by the server side (shutdown), not by us
    grpc.StatusCode.INTERNAL,             # the transport broke mid-stream (RST_STREAM)
})


class Cursor:
    """The resume point: the last delivered event's (epoch, sequence)."""

    def __init__(self, request, resume_after):
        self._request = request
        self.position = None
        if resume_after is not None:
            self.position = _position_of(resume_after)

    def advance(self, event):
        if event.epoch:
            self.position = (event.epoch, event.sequence)

    def request(self):
        """The SubscribeEventsRequest for the next attempt."""
        request = type(self._request)()
        request.CopyFrom(self._request)
        if self.position is not None:
            _requests.set_position(request, self.position)
        return request


class Reopener:
    """When a broken stream is reopened: the sync and asyncio Subscription
    loops ask it after each stream ends, and wait what it says."""

    def __init__(self, resume, retry):
        self._resume = resume
        self._retry = retry
        self._failures = 0
        self.reconnects = 0

    def delivered(self):
        self._failures = 0

    def check(self, error):
        """A stream failed with `error` (grpc.RpcError): raises it as a
        BridgeError unless a new stream may fix it."""
        if not self._resume or error.code() not in RESUMABLE:
            raise _errors.from_rpc_error(error) from None

    def pause(self):
        """The stream ended: seconds to wait before the next, or None to stop."""
        if not self._resume:
            return None
        self._failures += 1
        self.reconnects += 1
        return self._retry.backoff(min(self._failures, 8))


def _position_of(value):
    if isinstance(value, tuple):
        return value
    return (value.epoch, value.sequence)


class JobCursor:
    """WatchJob's resume point: the sequence of the last message delivered.
    A job's stream ends by itself (OK) when the job ends; a broken one is
    reopened after this sequence, by the same Reopener rule as events."""

    def __init__(self, request):
        self._request = request
        self.sequence = request.resume_after

    def advance(self, response):
        self.sequence = response.sequence

    def request(self):
        request = type(self._request)()
        request.CopyFrom(self._request)
        request.resume_after = self.sequence
        return request
