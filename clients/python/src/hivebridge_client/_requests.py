"""Request messages built from send()/subscribe() arguments; shared by the
sync and asyncio clients so both accept exactly the same arguments."""

import uuid

from google.protobuf import duration_pb2

from google.protobuf import struct_pb2

from hive.bridge.v1 import device_bridge_pb2 as api
from hive.bridge.v1 import jobs_pb2

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


_PRESENCE = {"online": api.PRESENCE_ONLINE, "offline": api.PRESENCE_OFFLINE, "all": api.PRESENCE_ALL}
_JOB_STATES = {"running": jobs_pb2.JOB_STATE_RUNNING, "paused": jobs_pb2.JOB_STATE_PAUSED,
               "completed": jobs_pb2.JOB_STATE_COMPLETED, "aborted": jobs_pb2.JOB_STATE_ABORTED,
               "cancelled": jobs_pb2.JOB_STATE_CANCELLED}


def _word(what, value, words):
    if isinstance(value, int):
        return value
    try:
        return words[value]
    except KeyError:
        raise ValueError("%s %r: expected one of %s" % (what, value, ", ".join(repr(w) for w in words))) from None


def job_states(states):
    return [_word("state", state, _JOB_STATES) for state in states]


def _field_match(name, value):
    """"TYPE.PATH" (as hivectl's --field) and the value it must equal."""
    event_type, dot, path = name.partition(".")
    if not event_type or not dot or not path:
        raise ValueError("fields key %r: expected TYPE.PATH such as 'device-state.state.mode'" % (name,))
    equals = struct_pb2.Value()
    if isinstance(value, struct_pb2.Value):
        equals.CopyFrom(value)
    else:
        holder = struct_pb2.Struct()
        holder.update({"v": value})
        equals.CopyFrom(holder.fields["v"])
    return jobs_pb2.TwinFieldMatch(event_type=event_type, path=path, equals=equals)


def _wave(wave):
    """A JobWave, or (percent, pause seconds), or a bare percent."""
    if isinstance(wave, jobs_pb2.JobWave):
        return wave
    percent, pause = (wave, None) if isinstance(wave, (int, float)) else wave
    return jobs_pb2.JobWave(percent=percent, pause_after=_duration(pause))


def start_job_request(command, *, device_ids, account_id, presence, version, fields, queue_ttl, max_rate,
                      max_in_flight, waves, abort_ratio, abort_window, include_joining, wait, job_id,
                      state, dry_run, description):
    """The StartJobRequest: device_ids (a list) or the selector arguments
    (account_id, presence "online"|"offline"|"all", version, fields
    {"TYPE.PATH": value}); waves: (percent, pause seconds) pairs."""
    if not isinstance(command, _commands.Command):
        raise TypeError("command: expected a hive.bridge.v1.Command (see hivebridge_client.commands), got %s"
                        % type(command).__name__)
    selector_given = any(x is not None for x in (account_id, presence, version, fields))
    if device_ids is not None and selector_given:
        raise ValueError("device_ids names the devices: not with account_id, presence, version or fields")
    if queue_ttl is None:
        raise ValueError("queue_ttl is required (seconds a device's request waits for it to connect)")
    if device_ids is not None:
        target = jobs_pb2.JobTarget(devices=jobs_pb2.JobDeviceList(device_ids=list(device_ids)))
    else:
        target = jobs_pb2.JobTarget(selector=jobs_pb2.DeviceSelector(
            account_id=account_id or "", presence=_word("presence", presence or 0, _PRESENCE),
            version=version or "",
            fields=[_field_match(name, value) for name, value in (fields or {}).items()]))
    rollout = jobs_pb2.JobRollout(max_rate=max_rate, max_in_flight=max_in_flight,
                                  waves=[_wave(w) for w in waves], include_joining=include_joining)
    if abort_ratio is not None:
        rollout.abort.CopyFrom(jobs_pb2.JobAbortRule(window=abort_window, max_failure_ratio=abort_ratio))
    return jobs_pb2.StartJobRequest(
        job_id=job_id or "", target=target, command=command, state=state, wait=wait_mode(wait),
        queue_ttl=_duration(queue_ttl), rollout=rollout, dry_run=dry_run, description=description or "")
