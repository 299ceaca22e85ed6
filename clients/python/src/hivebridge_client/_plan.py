"""The calls that take more than one RPC (a retried send, a paged listing) as
sans-I/O plans, so the sync and asyncio clients share their logic and differ
only in how they wait.

A plan is a generator. It yields Call(method, request, timeout), the stub
method's name and arguments, and is sent the response or thrown the
grpc.RpcError; or it yields Sleep(seconds) and is sent None. What it returns
is the call's result. Driver steps a plan for a client's loop and turns an
RpcError that leaves the plan into the BridgeError the caller sees.
"""

import time
from collections import namedtuple

import grpc

from hive.bridge.v1 import device_bridge_pb2 as api
from hive.bridge.v1 import jobs_pb2

from . import _errors, _retry

Call = namedtuple("Call", "method request timeout")

# The methods of the FleetJobs service (the clients' jobs stub); every other
# Call is a DeviceBridge method.
JOB_METHODS = frozenset({"StartJob", "GetJob", "ListJobs", "CancelJob"})
Sleep = namedtuple("Sleep", "seconds")


def unary(method, request, timeout, field):
    """One call; returns the response's `field` (None: the whole response)."""
    response = yield Call(method, request, timeout)
    return response if field is None else getattr(response, field)


def send(request, policy, timeout):
    """SendDeviceRequest, retried by `policy` (see _retry) within one deadline."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            return (yield Call("SendDeviceRequest", request, max(0.0, deadline - time.monotonic())))
        except grpc.RpcError as e:
            pause = policy.backoff(attempt)
            if (e.code() not in _retry.RETRYABLE or attempt >= policy.max_attempts
                    or time.monotonic() + pause >= deadline):
                raise
        yield Sleep(pause)


def list_devices(account_id, presence, version, page_size, timeout):
    """Every page of ListDevices; returns their devices."""
    devices, token = [], ""
    while True:
        page = yield Call("ListDevices", api.ListDevicesRequest(
            account_id=account_id or "", presence=presence or 0, version=version or "",
            page_size=page_size, page_token=token), timeout)
        devices.extend(page.devices)
        token = page.next_page_token
        if not token:
            return devices


def list_jobs(states, page_size, timeout):
    """Every page of ListJobs, newest first; returns their jobs."""
    jobs, token = [], ""
    while True:
        page = yield Call("ListJobs", jobs_pb2.ListJobsRequest(
            states=list(states), page_size=page_size, page_token=token), timeout)
        jobs.extend(page.jobs)
        token = page.next_page_token
        if not token:
            return jobs


class Driver:
    """Steps one plan: next_step() until it returns None, then `result`."""

    def __init__(self, plan):
        self._plan = plan
        self._reply = None
        self._error = None
        self.result = None

    def next_step(self):
        try:
            if self._error is not None:
                step = self._plan.throw(self._error)
            else:
                step = self._plan.send(self._reply)
        except StopIteration as done:
            self.result = done.value
            return None
        except grpc.RpcError as e:
            raise _errors.from_rpc_error(e) from None
        self._reply, self._error = None, None
        return step

    def answer(self, reply):
        self._reply = reply

    def fail(self, error):
        self._error = error
