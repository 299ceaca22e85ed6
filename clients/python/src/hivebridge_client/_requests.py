"""Request messages built from send()/subscribe() arguments; shared by the
sync and asyncio clients so both accept exactly the same arguments."""

import uuid

from google.protobuf import duration_pb2

from hive.bridge.v1 import device_bridge_pb2 as api

from . import commands as _commands

_WAIT = {"ack": api.WAIT_MODE_ACK, "result": api.WAIT_MODE_RESULT, "none": api.WAIT_MODE_NONE}


def new_request_id():
    """A fresh idempotency key: pass it as request_id to make send() retryable."""
    return str(uuid.uuid4())


def _duration(seconds):
    if seconds is None:
        return None
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d


def wait_mode(wait):
    if isinstance(wait, int):
        return wait
    try:
        return _WAIT[wait]
    except KeyError:
        raise ValueError("wait %r: expected 'ack', 'result' or 'none'" % (wait,)) from None


def send_request(device_id, command, *, request_id, wait, account_id, state, connect_timeout,
                 queue_ttl, outcome_events):
    if not isinstance(command, _commands.Command):
        raise TypeError("command: expected a hive.bridge.v1.Command (see hivebridge_client.commands), got %s"
                        % type(command).__name__)
    return api.SendDeviceRequestRequest(
        device_id=device_id, account_id=account_id or "", request_id=request_id or "",
        command=command, state=state, wait=wait_mode(wait),
        connect_timeout=_duration(connect_timeout), queue_ttl=_duration(queue_ttl),
        outcome_events=outcome_events)


def subscribe_request(account_ids, device_ids, types, resume_after):
    request = api.SubscribeEventsRequest(
        account_ids=list(account_ids), device_ids=list(device_ids), types=list(types))
    if resume_after is not None:
        set_position(request, resume_after)
    return request


def watch_request(account_ids, device_ids, alive):
    return api.WatchDevicesRequest(account_ids=list(account_ids), device_ids=list(device_ids), alive=alive)


def set_position(request, position):
    """position: a StreamPosition, a DeviceEvent, or an (epoch, sequence) pair."""
    if isinstance(position, tuple):
        epoch, sequence = position
    else:
        epoch, sequence = position.epoch, position.sequence
    request.resume_after.epoch = epoch
    request.resume_after.sequence = sequence
