"""The synchronous client: one Bridge per bridge address, shared by threads.

    from hivebridge_client import Bridge, commands, new_request_id

    with Bridge("bridge.internal:9090", token=TOKEN, tls=TLS(root_ca="ca.pem")) as bridge:
        reply = bridge.send(DEVICE, commands.device_command("check_disk_space"),
                            wait="result", request_id=new_request_id())
        for event in bridge.subscribe(device_ids=[DEVICE]):
            print(event.type, event.sequence)

hivebridge_client.aio.Bridge is the same API for asyncio.
"""

import threading
import time

import grpc

from hive.bridge.v1 import device_bridge_pb2 as api
from hive.bridge.v1 import device_bridge_pb2_grpc as api_grpc
from hive.bridge.v1 import jobs_pb2
from hive.bridge.v1 import jobs_pb2_grpc

from . import _channel, _errors, _plan, _requests, _resume, _retry

DEFAULT_TIMEOUT = 30.0


class Bridge:
    """A connection to one hivebridge's DeviceBridge and FleetJobs APIs.

    target: "host:port". token: the backend's bearer token (the bridge's
    --backend-policy-file), sent on every call. tls: None for plaintext, True
    for TLS with the system's roots, or a TLS(...) for a private CA or mTLS.
    timeout: the default deadline of each unary call, in seconds, retries
    included. retry: the RetryPolicy of send() with a request_id.
    """

    def __init__(self, target, *, token=None, tls=None, timeout=DEFAULT_TIMEOUT,
                 retry=_retry.RetryPolicy(), options=None):
        credentials, channel_options = _channel.channel_args(tls, options)
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=channel_options)
        else:
            self._channel = grpc.secure_channel(target, credentials, options=channel_options)
        self.stub = api_grpc.DeviceBridgeStub(self._channel)
        self.jobs_stub = jobs_pb2_grpc.FleetJobsStub(self._channel)
        self._metadata = _channel.call_metadata(token)
        self._timeout = timeout
        self._retry = retry
        self._sleep = time.sleep  # tests replace it

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self, plan):
        """Drives a _plan with blocking calls; its result."""
        driver = _plan.Driver(plan)
        while (step := driver.next_step()) is not None:
            if isinstance(step, _plan.Sleep):
                self._sleep(step.seconds)
                continue
            stub = self.jobs_stub if step.method in _plan.JOB_METHODS else self.stub
            try:
                driver.answer(getattr(stub, step.method)(
                    step.request, timeout=step.timeout, metadata=self._metadata))
            except grpc.RpcError as e:
                driver.fail(e)
        return driver.result

    def _timeout_or_default(self, timeout):
        return timeout if timeout is not None else self._timeout

    def send(self, device_id, command, *, request_id=None, wait="ack", account_id=None, state=None,
             connect_timeout=None, queue_ttl=None, outcome_events=False, timeout=None):
        """Sends `command` to the device; returns the SendDeviceRequestResponse.

        wait: "ack" (default), "result" or "none". With a request_id
        (new_request_id()) the call is retried on UNAVAILABLE and
        RESOURCE_EXHAUSTED within `timeout`: the bridge never delivers one id
        twice. Raises a BridgeError subclass (NotFound, DeadlineExceeded, ...).
        """
        request = _requests.send_request(
            device_id, command, request_id=request_id, wait=wait, account_id=account_id,
            state=state, connect_timeout=connect_timeout, queue_ttl=queue_ttl,
            outcome_events=outcome_events)
        policy = self._retry if request_id else _retry.NO_RETRY
        return self._run(_plan.send(request, policy, self._timeout_or_default(timeout)))

    def list_devices(self, *, account_id=None, presence=None, version=None, page_size=0, timeout=None):
        """Every device the listing matches (all pages), as Device messages."""
        return self._run(_plan.list_devices(account_id, presence, version, page_size,
                                            self._timeout_or_default(timeout)))

    def get_device(self, device_id, *, timeout=None):
        """The Device (and its twin); NotFound when the bridge never saw it."""
        return self._run(_plan.unary("GetDevice", api.GetDeviceRequest(device_id=device_id),
                                     self._timeout_or_default(timeout), "device"))

    def get_request(self, request_id, *, timeout=None):
        """The RequestRecord of a request id (queued, sent, acked, ...)."""
        return self._run(_plan.unary("GetRequest", api.GetRequestRequest(request_id=request_id),
                                     self._timeout_or_default(timeout), "request"))

    def cancel_request(self, request_id, *, timeout=None):
        """Cancels a queued request; returns its RequestRecord."""
        return self._run(_plan.unary("CancelRequest", api.CancelRequestRequest(request_id=request_id),
                                     self._timeout_or_default(timeout), "request"))

    def subscribe(self, *, account_ids=(), device_ids=(), types=(), resume_after=None, resume=True,
                  recover_gaps=True):
        """A Subscription: iterate it for DeviceEvent messages.

        Filters: empty lists match everything. resume_after: an (epoch,
        sequence) pair, a StreamPosition or an event, to continue where a
        previous subscription stopped. With resume=True (default) a broken
        stream is reopened from the last event delivered, with backoff,
        until cancel(); otherwise its error is raised. With recover_gaps=True
        (default; with resume only) a slow-subscriber gap is not delivered
        when the bridge's history still has what it names: a new stream
        replays it from after the last event delivered (gap_recoveries
        counts these); see _resume.
        """
        request = _requests.subscribe_request(account_ids, device_ids, types, None)
        return Subscription(self, _resume.Cursor(request, resume_after, recover_gaps), resume)

    def watch_devices(self, *, account_ids=(), device_ids=(), alive=False):
        """A DeviceWatch over the twins of the matching devices (WatchDevices).

        Iterate it for WatchDevicesResponse messages: first the twin of every
        matching device the bridge knows (response.device), then one message
        with snapshot_complete=True, then a device's twin again, with the
        event that changed it (response.event), whenever one changes.
        watch.snapshot() reads up to that marker and returns the snapshot's
        Device list; cancel() ends the watch. alive=True also sends a twin
        when only its last_alive_at moved (every answered ping). Failures
        raise BridgeError subclasses (ResourceExhausted at the bridge's
        --max-subscribers); the watch does not reopen by itself.
        """
        request = _requests.watch_request(account_ids, device_ids, alive)
        return DeviceWatch(self.stub.WatchDevices(request, metadata=self._metadata))

    def start_job(self, command, *, device_ids=None, account_id=None, presence=None, version=None,
                  fields=None, queue_ttl=None, max_rate, max_in_flight=0, waves=(), abort_ratio=None,
                  abort_window=0, include_joining=False, wait="ack", job_id=None, state=None,
                  dry_run=False, description=None, timeout=None):
        """Starts a fleet job (FleetJobs.StartJob; the bridge needs --state-dir);
        returns the StartJobResponse: .job, and for a dry run .device_ids.

        Target: device_ids (a list), or a selector of account_id, presence
        ("online", "offline", "all"), version and fields ({"TYPE.PATH":
        value}, twin field equality). queue_ttl (seconds) is required.
        max_rate: devices per second; waves: cumulative (percent, pause
        seconds) pairs ending at 100; abort_ratio (0 < r < 1) over the last
        abort_window outcomes (0: 20). job_id makes the start idempotent.
        """
        request = _requests.start_job_request(
            command, device_ids=device_ids, account_id=account_id, presence=presence, version=version,
            fields=fields, queue_ttl=queue_ttl, max_rate=max_rate, max_in_flight=max_in_flight, waves=waves,
            abort_ratio=abort_ratio, abort_window=abort_window, include_joining=include_joining, wait=wait,
            job_id=job_id, state=state, dry_run=dry_run, description=description)
        return self._run(_plan.unary("StartJob", request, self._timeout_or_default(timeout), None))

    def get_job(self, job_id, *, timeout=None):
        """The Job (state, wave, counters); NotFound for an unknown job id."""
        return self._run(_plan.unary("GetJob", jobs_pb2.GetJobRequest(job_id=job_id),
                                     self._timeout_or_default(timeout), "job"))

    def list_jobs(self, *, states=(), page_size=0, timeout=None):
        """Every job (all pages), newest first; states: "running", "paused",
        "completed", "aborted", "cancelled" (or JobState values) to keep.
        A listed job's spec has no explicit device list (get_job has it)."""
        return self._run(_plan.list_jobs(_requests.job_states(states), page_size,
                                         self._timeout_or_default(timeout)))

    def cancel_job(self, job_id, *, timeout=None):
        """Cancels a running job; returns the Job (an ended one as it was)."""
        return self._run(_plan.unary("CancelJob", jobs_pb2.CancelJobRequest(job_id=job_id),
                                     self._timeout_or_default(timeout), "job"))

    def watch_job(self, job_id, *, resume_after=0, resume=True):
        """A JobWatch: iterate it for WatchJobResponse messages (the job, then
        each change) until the job ends. With resume=True (default) a broken
        stream is reopened after the last sequence delivered, with backoff."""
        request = jobs_pb2.WatchJobRequest(job_id=job_id, resume_after=resume_after)
        return JobWatch(self, _resume.JobCursor(request), resume)


class DeviceWatch:
    """The WatchDevices stream: an iterator of WatchDevicesResponse; see Bridge.watch_devices."""

    def __init__(self, call):
        self._call = call
        self._cancelled = False

    def cancel(self):
        self._cancelled = True
        self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._call)
        except grpc.RpcError as e:
            if self._cancelled and e.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise _errors.from_rpc_error(e) from None

    def snapshot(self):
        """The snapshot's Device messages: reads up to the snapshot_complete marker."""
        devices = []
        for response in self:
            if response.snapshot_complete:
                return devices
            devices.append(response.device)
        raise _errors.BridgeError(grpc.StatusCode.CANCELLED, "the watch ended before its snapshot was complete")


class _ResumingStream(_resume.ClientStream):
    """The blocking loop of a _resume.Stream, shared by Subscription and
    JobWatch: one call at a time (the cursor names the stub method), reopened
    by the stream's rules until cancel() or the rules say stop. The rules are
    _resume's; this only calls, reads and waits."""

    def __init__(self, bridge, cursor, resume):
        super().__init__(bridge, cursor, resume)
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    def cancel(self):
        self._cancelled.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()

    def __iter__(self):
        return self

    def __next__(self):
        # One stream for the object's life: iterating it again (another for
        # loop after a break) continues where the last one stopped.
        if self._items is None:
            self._items = self._run()
        return next(self._items)

    def _run(self):
        while not self._cancelled.is_set():
            request, wait_for_ready = self._stream.next_call()
            call = self._method(request, metadata=self._bridge._metadata, wait_for_ready=wait_for_ready)
            with self._lock:
                self._call = call
            if self._cancelled.is_set():
                call.cancel()
            try:
                for response in call:
                    item = self._stream.received(response)
                    if item is None:  # a slow-subscriber gap to recover from
                        break
                    yield item
                pause = self._stream.ended()
            except grpc.RpcError as e:
                if self._cancelled.is_set():
                    return
                pause = self._stream.failed(e)
            finally:
                # Ended, failed, or the iterator was closed: release the call.
                call.cancel()
            if pause is None or self._cancelled.wait(pause):
                return


class Subscription(_resume.SubscriptionProgress, _ResumingStream):
    """An endless, resuming iterator of DeviceEvent messages; cancel() ends it
    (a loop over it then stops).

    position: the (epoch, sequence) of the last event delivered, to store
    and pass as resume_after later. reconnects: how many times it resumed
    after a broken stream. gap_recoveries: how many slow-subscriber gaps it
    recovered from by replaying from the bridge's history instead of
    delivering them.
    """


class JobWatch(_resume.JobWatchProgress, _ResumingStream):
    """A resuming iterator of WatchJobResponse messages that stops when the
    bridge ends the stream (the job ended); cancel() ends it sooner.

    job: the Job as of the last message, without its spec (get_job has
    it). sequence: the last message's
    sequence (pass as resume_after later). reconnects: how many times it
    resumed.
    """

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
