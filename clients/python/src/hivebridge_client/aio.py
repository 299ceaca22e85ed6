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
import time

import grpc
import grpc.aio

from hive.bridge.v1 import device_bridge_pb2 as api
from hive.bridge.v1 import device_bridge_pb2_grpc as api_grpc

from . import _channel, _errors, _requests, _resume, _retry
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

    async def _call(self, method, request, timeout):
        try:
            return await method(request, timeout=timeout if timeout is not None else self._timeout,
                                metadata=self._metadata)
        except grpc.RpcError as e:
            raise _errors.from_rpc_error(e) from None

    async def send(self, device_id, command, *, request_id=None, wait="ack", account_id=None,
                   state=None, connect_timeout=None, queue_ttl=None, outcome_events=False,
                   timeout=None):
        """See hivebridge_client.Bridge.send."""
        request = _requests.send_request(
            device_id, command, request_id=request_id, wait=wait, account_id=account_id,
            state=state, connect_timeout=connect_timeout, queue_ttl=queue_ttl,
            outcome_events=outcome_events)
        policy = self._retry if request_id else _retry.NO_RETRY
        deadline = time.monotonic() + (timeout if timeout is not None else self._timeout)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.stub.SendDeviceRequest(
                    request, timeout=max(0.0, deadline - time.monotonic()), metadata=self._metadata)
            except grpc.RpcError as e:
                pause = policy.backoff(attempt)
                if (e.code() not in _retry.RETRYABLE or attempt >= policy.max_attempts
                        or time.monotonic() + pause >= deadline):
                    raise _errors.from_rpc_error(e) from None
                await self._sleep(pause)

    async def list_devices(self, *, account_id=None, presence=None, version=None, page_size=0,
                           timeout=None):
        """See hivebridge_client.Bridge.list_devices."""
        devices, token = [], ""
        while True:
            page = await self._call(self.stub.ListDevices, api.ListDevicesRequest(
                account_id=account_id or "", presence=presence or 0, version=version or "",
                page_size=page_size, page_token=token), timeout)
            devices.extend(page.devices)
            token = page.next_page_token
            if not token:
                return devices

    async def get_device(self, device_id, *, timeout=None):
        """See hivebridge_client.Bridge.get_device."""
        return (await self._call(self.stub.GetDevice, api.GetDeviceRequest(device_id=device_id),
                                 timeout)).device

    async def get_request(self, request_id, *, timeout=None):
        """See hivebridge_client.Bridge.get_request."""
        return (await self._call(self.stub.GetRequest, api.GetRequestRequest(request_id=request_id),
                                 timeout)).request

    async def cancel_request(self, request_id, *, timeout=None):
        """See hivebridge_client.Bridge.cancel_request."""
        return (await self._call(self.stub.CancelRequest,
                                 api.CancelRequestRequest(request_id=request_id), timeout)).request

    def subscribe(self, *, account_ids=(), device_ids=(), types=(), resume_after=None, resume=True):
        """An async iterator of DeviceEvent; see hivebridge_client.Bridge.subscribe."""
        request = _requests.subscribe_request(account_ids, device_ids, types, None)
        return Subscription(self, _resume.Cursor(request, resume_after), resume)

    def watch_devices(self, *, account_ids=(), device_ids=(), alive=False):
        """An async DeviceWatch; see hivebridge_client.Bridge.watch_devices."""
        request = _requests.watch_request(account_ids, device_ids, alive)
        return DeviceWatch(self.stub.WatchDevices(request, metadata=self._metadata))


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


class Subscription:
    """An endless, resuming async iterator of DeviceEvent messages; cancel() ends it."""

    def __init__(self, bridge, cursor, resume):
        self._bridge = bridge
        self._cursor = cursor
        self._resume = resume
        self._cancelled = False
        self._call = None
        self._events = None
        self.reconnects = 0

    @property
    def position(self):
        return self._cursor.position

    def cancel(self):
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()

    def __aiter__(self):
        return self

    async def __anext__(self):
        # One stream for the object's life, as in the sync Subscription.
        if self._events is None:
            self._events = self._run()
        return await self._events.__anext__()

    async def aclose(self):
        """Cancels and releases the stream (for use outside `async for`)."""
        self.cancel()
        if self._events is not None:
            await self._events.aclose()

    async def _run(self):
        failures = 0
        while not self._cancelled:
            self._call = self._bridge.stub.SubscribeEvents(
                self._cursor.request(), metadata=self._bridge._metadata,
                wait_for_ready=self.reconnects > 0)
            try:
                async for response in self._call:
                    failures = 0
                    self._cursor.advance(response.event)
                    yield response.event
            except asyncio.CancelledError:
                if self._cancelled:
                    return
                raise
            except grpc.RpcError as e:
                if self._cancelled:
                    return
                if not self._resume or e.code() not in _resume.RESUMABLE:
                    raise _errors.from_rpc_error(e) from None
            finally:
                # Ended, failed, or the iterator was closed: release the call.
                self._call.cancel()
            if not self._resume or self._cancelled:
                return
            failures += 1
            self.reconnects += 1
            await self._bridge._sleep(self._bridge._retry.backoff(min(failures, 8)))
