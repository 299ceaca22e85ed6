"""The asyncio client: hivebridge_client.Bridge's API on grpc.aio.

    from hivebridge_client import aio, commands

    async with aio.Bridge("bridge.internal:9090", token=TOKEN, tls=True) as bridge:
        reply = await bridge.send(DEVICE, commands.device_command("reboot"), wait="ack")
        async for event in bridge.subscribe(types=["device-state"]):
            ...

Same arguments, errors (BridgeError subclasses), retry and resume rules as
the sync client; create it inside the event loop that uses it.
"""

import asyncio

import grpc
import grpc.aio

from hive.bridge.v1 import device_bridge_pb2 as api
from hive.bridge.v1 import device_bridge_pb2_grpc as api_grpc
from hive.bridge.v1 import jobs_pb2
from hive.bridge.v1 import jobs_pb2_grpc

from . import _channel, _errors, _plan, _requests, _resume, _retry
from .bridge import DEFAULT_TIMEOUT


class Bridge:
    """See hivebridge_client.Bridge; every call is a coroutine."""

    def __init__(self, target, *, token=None, tls=None, timeout=DEFAULT_TIMEOUT,
                 retry=_retry.RetryPolicy(), options=None):
        credentials, channel_options = _channel.channel_args(tls, options)
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(target, options=channel_options)
        else:
            self._channel = grpc.aio.secure_channel(target, credentials, options=channel_options)
        self.stub = api_grpc.DeviceBridgeStub(self._channel)
        self.jobs_stub = jobs_pb2_grpc.FleetJobsStub(self._channel)
        self._metadata = _channel.call_metadata(token)
        self._timeout = timeout
        self._retry = retry
        self._sleep = asyncio.sleep  # tests replace it

    async def close(self):
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def _timeout_or_default(self, timeout):
        return timeout if timeout is not None else self._timeout

    async def _run(self, plan):
        """Drives a _plan with awaited calls; its result."""
        driver = _plan.Driver(plan)
        while (step := driver.next_step()) is not None:
            if isinstance(step, _plan.Sleep):
                await self._sleep(step.seconds)
            else:
                stub = self.jobs_stub if step.method in _plan.JOB_METHODS else self.stub
                try:
                    driver.answer(await getattr(stub, step.method)(
                        step.request, timeout=step.timeout, metadata=self._metadata))
                except grpc.RpcError as e:
                    driver.fail(e)
        return driver.result

    async def send(self, device_id, command, *, request_id=None, wait="ack", account_id=None,
                   state=None, connect_timeout=None, queue_ttl=None, outcome_events=False,
                   timeout=None):
        """See hivebridge_client.Bridge.send."""
        request = _requests.send_request(
            device_id, command, request_id=request_id, wait=wait, account_id=account_id,
            state=state, connect_timeout=connect_timeout, queue_ttl=queue_ttl,
            outcome_events=outcome_events)
        policy = self._retry if request_id else _retry.NO_RETRY
        return await self._run(_plan.send(request, policy, self._timeout_or_default(timeout)))

    async def list_devices(self, *, account_id=None, presence=None, version=None, page_size=0,
                           timeout=None):
        """See hivebridge_client.Bridge.list_devices."""
        return await self._run(_plan.list_devices(account_id, presence, version, page_size,
                                                  self._timeout_or_default(timeout)))

    async def get_device(self, device_id, *, timeout=None):
        """See hivebridge_client.Bridge.get_device."""
        return await self._run(_plan.unary("GetDevice", api.GetDeviceRequest(device_id=device_id),
                                           self._timeout_or_default(timeout), "device"))

    async def get_request(self, request_id, *, timeout=None):
        """See hivebridge_client.Bridge.get_request."""
        return await self._run(_plan.unary("GetRequest", api.GetRequestRequest(request_id=request_id),
                                           self._timeout_or_default(timeout), "request"))

    async def cancel_request(self, request_id, *, timeout=None):
        """See hivebridge_client.Bridge.cancel_request."""
        return await self._run(_plan.unary("CancelRequest", api.CancelRequestRequest(request_id=request_id),
                                           self._timeout_or_default(timeout), "request"))

    def subscribe(self, *, account_ids=(), device_ids=(), types=(), resume_after=None, resume=True,
                  recover_gaps=True):
        """An async iterator of DeviceEvent; see hivebridge_client.Bridge.subscribe."""
        request = _requests.subscribe_request(account_ids, device_ids, types, None)
        return Subscription(self, _resume.Cursor(request, resume_after, recover_gaps), resume)

    def watch_devices(self, *, account_ids=(), device_ids=(), alive=False):
        """An async DeviceWatch; see hivebridge_client.Bridge.watch_devices."""
        request = _requests.watch_request(account_ids, device_ids, alive)
        return DeviceWatch(self.stub.WatchDevices(request, metadata=self._metadata))

    async def start_job(self, command, *, device_ids=None, account_id=None, presence=None, version=None,
                        fields=None, queue_ttl=None, max_rate, max_in_flight=0, waves=(), abort_ratio=None,
                        abort_window=0, include_joining=False, wait="ack", job_id=None, state=None,
                        dry_run=False, description=None, timeout=None):
        """See hivebridge_client.Bridge.start_job."""
        request = _requests.start_job_request(
            command, device_ids=device_ids, account_id=account_id, presence=presence, version=version,
            fields=fields, queue_ttl=queue_ttl, max_rate=max_rate, max_in_flight=max_in_flight, waves=waves,
            abort_ratio=abort_ratio, abort_window=abort_window, include_joining=include_joining, wait=wait,
            job_id=job_id, state=state, dry_run=dry_run, description=description)
        return await self._run(_plan.unary("StartJob", request, self._timeout_or_default(timeout), None))

    async def get_job(self, job_id, *, timeout=None):
        """See hivebridge_client.Bridge.get_job."""
        return await self._run(_plan.unary("GetJob", jobs_pb2.GetJobRequest(job_id=job_id),
                                           self._timeout_or_default(timeout), "job"))

    async def list_jobs(self, *, states=(), page_size=0, timeout=None):
        """See hivebridge_client.Bridge.list_jobs."""
        return await self._run(_plan.list_jobs(_requests.job_states(states), page_size,
                                               self._timeout_or_default(timeout)))

    async def cancel_job(self, job_id, *, timeout=None):
        """See hivebridge_client.Bridge.cancel_job."""
        return await self._run(_plan.unary("CancelJob", jobs_pb2.CancelJobRequest(job_id=job_id),
                                           self._timeout_or_default(timeout), "job"))

    def watch_job(self, job_id, *, resume_after=0, resume=True):
        """An async JobWatch; see hivebridge_client.Bridge.watch_job."""
        request = jobs_pb2.WatchJobRequest(job_id=job_id, resume_after=resume_after)
        return JobWatch(self, _resume.JobCursor(request), resume)


class DeviceWatch:
    """The WatchDevices stream as an async iterator of WatchDevicesResponse;
    see hivebridge_client.Bridge.watch_devices."""

    def __init__(self, call):
        self._call = call
        self._cancelled = False

    def cancel(self):
        self._cancelled = True
        self._call.cancel()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.cancel()

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            response = await self._call.read()
        except asyncio.CancelledError:
            if self._cancelled:
                raise StopAsyncIteration from None
            raise
        except grpc.RpcError as e:
            if self._cancelled and e.code() == grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            raise _errors.from_rpc_error(e) from None
        if response is grpc.aio.EOF:
            raise StopAsyncIteration
        return response

    async def snapshot(self):
        """See hivebridge_client.DeviceWatch.snapshot."""
        devices = []
        async for response in self:
            if response.snapshot_complete:
                return devices
            devices.append(response.device)
        raise _errors.BridgeError(grpc.StatusCode.CANCELLED, "the watch ended before its snapshot was complete")


class _ResumingStream(_resume.ClientStream):
    """The asyncio loop of a _resume.Stream, shared by Subscription and
    JobWatch; see hivebridge_client.bridge._ResumingStream."""

    def __init__(self, bridge, cursor, resume):
        super().__init__(bridge, cursor, resume)
        self._cancelled = False

    def cancel(self):
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()

    def __aiter__(self):
        return self

    async def __anext__(self):
        # One stream for the object's life, as in the sync client.
        if self._items is None:
            self._items = self._run()
        return await self._items.__anext__()

    async def aclose(self):
        """Cancels and releases the stream (for use outside `async for`)."""
        self.cancel()
        if self._items is not None:
            await self._items.aclose()

    async def _run(self):
        while not self._cancelled:
            request, wait_for_ready = self._stream.next_call()
            self._call = self._method(request, metadata=self._bridge._metadata, wait_for_ready=wait_for_ready)
            try:
                async for response in self._call:
                    item = self._stream.received(response)
                    if item is None:  # a slow-subscriber gap to recover from
                        break
                    yield item
                pause = self._stream.ended()
            except asyncio.CancelledError:
                if self._cancelled:
                    return
                raise
            except grpc.RpcError as e:
                if self._cancelled:
                    return
                pause = self._stream.failed(e)
            finally:
                # Ended, failed, or the iterator was closed: release the call.
                self._call.cancel()
            if pause is None or self._cancelled:
                return
            if pause:  # 0: a gap recovery reopens at once
                await self._bridge._sleep(pause)


class Subscription(_resume.SubscriptionProgress, _ResumingStream):
    """An endless, resuming async iterator of DeviceEvent messages; cancel() ends it."""


class JobWatch(_resume.JobWatchProgress, _ResumingStream):
    """A resuming async iterator of WatchJobResponse messages that stops when
    the job ends; see hivebridge_client.JobWatch."""
