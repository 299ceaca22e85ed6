"""What a resuming stream remembers and when it reconnects, without I/O;
shared by the sync and asyncio Subscription and JobWatch classes, which
differ only in how they call, read and wait (see Stream).

A SubscribeEvents stream never ends by itself. When it does end (the bridge
restarted, a proxy dropped the connection, keepalive found the peer dead),
the subscription opens a new stream with `resume_after` set to the last
event it delivered: the bridge replays what was missed from its history, or
starts with a `gap` event when it cannot (history too short, or a new epoch
after a restart). Errors that a new attempt cannot fix (a wrong token, a bad
filter) are raised instead.

A slow-subscriber `gap` (the subscriber's queue at the bridge overflowed) is
not delivered when the subscription has delivered an event since it opened
or since its last such recovery (and recover_gaps is on, with resume): the
missed events are still in the bridge's history, so it opens a new stream at
once after the last event delivered, without backoff or counting a
reconnect, and the bridge replays them (Cursor.recovers). Otherwise the gap
is delivered, so a subscriber slower than the events for good ends with the
bridge's HISTORY_EXPIRED gap, not an endless replay.
"""

import grpc

from hive.bridge.v1 import events_pb2

from . import _errors, _requests

RESUMABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,          # bridge down or restarting, connection lost
    grpc.StatusCode.RESOURCE_EXHAUSTED,   # --max-subscribers: try again later
    grpc.StatusCode.CANCELLED,            # cancelled by the server side (shutdown), not by us
    grpc.StatusCode.INTERNAL,             # the transport broke mid-stream (RST_STREAM)
})


class Cursor:
    """The resume point: the last delivered event's (epoch, sequence)."""

    # A SubscribeEvents stream that ends OK (the bridge draining) is reopened.
    ENDS_WITH_STREAM = False

    def __init__(self, request, resume_after, recover_gaps=True):
        self._request = request
        self.position = None
        if resume_after is not None:
            self.position = _position_of(resume_after)
        self._recover_gaps = recover_gaps
        # An event (not a gap) delivered since the subscription opened or
        # since its last recovery: resuming after it makes progress.
        self._progressed = False
        self.gap_recoveries = 0

    @staticmethod
    def method(bridge):
        """The stub method that opens the stream."""
        return bridge.stub.SubscribeEvents

    @staticmethod
    def item(response):
        """What a SubscribeEventsResponse delivers: its event."""
        return response.event

    def recovers(self, event):
        """Whether `event` is a slow-subscriber gap to recover from instead of
        delivering it: the caller then opens a new stream after `position`
        (the last event delivered; the gap's own position would skip what
        it names). Only after progress, which bounds the replays."""
        if (not self._recover_gaps or not self._progressed or event.WhichOneof("body") != "gap"
                or event.gap.reason != events_pb2.GAP_REASON_SLOW_SUBSCRIBER):
            return False
        self._progressed = False
        self.gap_recoveries += 1
        return True

    def advance(self, event):
        if event.epoch:
            self.position = (event.epoch, event.sequence)
        if event.WhichOneof("body") != "gap":
            self._progressed = True

    def request(self):
        """The SubscribeEventsRequest for the next attempt."""
        request = type(self._request)()
        request.CopyFrom(self._request)
        if self.position is not None:
            _requests.set_position(request, self.position)
        return request


class Reopener:
    """When a broken stream is reopened: Stream asks it after each stream
    ends, and the client's loop waits what it says."""

    def __init__(self, resume, retry):
        self._resume = resume
        self._retry = retry
        self._failures = 0
        self.reconnects = 0

    def delivered(self):
        self._failures = 0

    def resumes(self):
        """Whether a new stream may be opened at all (resume=True)."""
        return self._resume

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
    """WatchJob's resume point: the sequence of the last message delivered,
    and the Job as of that message. A job's stream ends by itself (OK) when
    the job ends; a broken one is reopened after this sequence, by the same
    Reopener rule as events."""

    ENDS_WITH_STREAM = True

    def __init__(self, request):
        self._request = request
        self.sequence = request.resume_after
        self.job = None

    @staticmethod
    def method(bridge):
        return bridge.jobs_stub.WatchJob

    @staticmethod
    def item(response):
        """What a WatchJobResponse delivers: the whole response."""
        return response

    @staticmethod
    def recovers(response):
        """A job's stream has no gaps to recover from."""
        return False

    def advance(self, response):
        self.sequence = response.sequence
        self.job = response.job

    def request(self):
        request = type(self._request)()
        request.CopyFrom(self._request)
        request.resume_after = self.sequence
        return request


class Stream:
    """One resuming stream's rules, without I/O: what the next call asks
    for, what each response delivers, and once a call has ended how long to
    wait before the next one (None: stop). The sync and asyncio clients each
    drive it with one loop (bridge._ResumingStream, aio._ResumingStream):

        while not cancelled:
            request, wait_for_ready = stream.next_call()
            call = stream.method(bridge)(request, wait_for_ready=wait_for_ready, ...)
            try:
                for response in call:
                    item = stream.received(response)
                    if item is None: break    # a gap to recover from
                    yield item
                pause = stream.ended()
            except grpc.RpcError as e:
                if cancelled: return
                pause = stream.failed(e)      # or raises the BridgeError
            finally:
                call.cancel()
            if pause is None: return
            wait(pause)                       # 0 after a gap recovery

    cursor: a Cursor (SubscribeEvents) or a JobCursor (WatchJob); it says
    which stub method opens the stream, what a response delivers, how the
    next request resumes, and whether an OK end is the stream's last
    (ENDS_WITH_STREAM).
    """

    def __init__(self, cursor, resume, retry):
        self.cursor = cursor
        self._reopener = Reopener(resume, retry)
        self._recovering = False

    def method(self, bridge):
        """The stub method of `bridge` that opens the stream."""
        return self.cursor.method(bridge)

    @property
    def reconnects(self):
        return self._reopener.reconnects

    def next_call(self):
        """(request, wait_for_ready) of the next call: the first fails fast,
        a resumed one waits for the bridge to come back."""
        return self.cursor.request(), self.reconnects > 0

    def received(self, response):
        """A response arrived: the item to deliver, or None when it is a gap
        to recover from: cancel the call, then ended() says to open the
        next one at once."""
        self._reopener.delivered()
        item = self.cursor.item(response)
        if self._reopener.resumes() and self.cursor.recovers(item):
            self._recovering = True
            return None
        self.cursor.advance(item)
        return item

    def ended(self):
        """The call ended OK (or was left for a gap recovery): seconds
        before the next, or None to stop."""
        if self._recovering:
            # Not a failure: no backoff, no reconnect counted.
            self._recovering = False
            return 0
        if self.cursor.ENDS_WITH_STREAM:
            return None
        return self._reopener.pause()

    def failed(self, error):
        """The call failed with `error` (grpc.RpcError), not cancelled by
        us: seconds before the next, or None to stop; raises it as a
        BridgeError when a new call cannot fix it."""
        self._reopener.check(error)
        return self._reopener.pause()


class ClientStream:
    """What the sync and asyncio resuming streams hold alike: the bridge, the
    Stream of rules, the stub method that opens a call, the call in progress
    and the iterator of items. Each client's subclass adds its loop."""

    def __init__(self, bridge, cursor, resume):
        self._bridge = bridge
        self._stream = Stream(cursor, resume, bridge._retry)
        self._method = self._stream.method(bridge)
        self._call = None
        self._items = None

    @property
    def reconnects(self):
        return self._stream.reconnects


class SubscriptionProgress:
    """A Subscription's progress (sync and asyncio alike): mixed in before a
    client's ClientStream."""

    @property
    def position(self):
        return self._stream.cursor.position

    @property
    def gap_recoveries(self):
        return self._stream.cursor.gap_recoveries


class JobWatchProgress:
    """A JobWatch's progress (sync and asyncio alike); see SubscriptionProgress."""

    @property
    def job(self):
        return self._stream.cursor.job

    @property
    def sequence(self):
        return self._stream.cursor.sequence
