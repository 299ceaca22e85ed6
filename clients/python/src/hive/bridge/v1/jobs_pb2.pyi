from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hive.bridge.v1 import commands_pb2 as _commands_pb2
from hive.bridge.v1 import device_bridge_pb2 as _device_bridge_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
JOB_STATE_ABORTED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_COMPLETED: JobState
JOB_STATE_PAUSED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_UNSPECIFIED: JobState

class CancelJobRequest(_message.Message):
    __slots__ = ["job_id"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class DeviceSelector(_message.Message):
    __slots__ = ["account_id", "fields", "presence", "version"]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    fields: _containers.RepeatedCompositeFieldContainer[TwinFieldMatch]
    presence: _device_bridge_pb2.Presence
    version: str
    def __init__(self, account_id: _Optional[str] = ..., presence: _Optional[_Union[_device_bridge_pb2.Presence, str]] = ..., version: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[TwinFieldMatch, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ["job_id"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ["account_id", "counters", "created_at", "end_reason", "ended_at", "job_id", "replica", "spec", "state", "wave"]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    counters: JobCounters
    created_at: _timestamp_pb2.Timestamp
    end_reason: str
    ended_at: _timestamp_pb2.Timestamp
    job_id: str
    replica: str
    spec: StartJobRequest
    state: JobState
    wave: int
    def __init__(self, job_id: _Optional[str] = ..., spec: _Optional[_Union[StartJobRequest, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., counters: _Optional[_Union[JobCounters, _Mapping]] = ..., wave: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_reason: _Optional[str] = ..., account_id: _Optional[str] = ..., replica: _Optional[str] = ...) -> None: ...

class JobAbortRule(_message.Message):
    __slots__ = ["max_failure_ratio", "window"]
    MAX_FAILURE_RATIO_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    max_failure_ratio: float
    window: int
    def __init__(self, window: _Optional[int] = ..., max_failure_ratio: _Optional[float] = ...) -> None: ...

class JobCounters(_message.Message):
    __slots__ = ["expired", "failed", "in_flight", "joined", "pending", "queued", "selected", "skipped", "succeeded"]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    JOINED_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    expired: int
    failed: int
    in_flight: int
    joined: int
    pending: int
    queued: int
    selected: int
    skipped: int
    succeeded: int
    def __init__(self, selected: _Optional[int] = ..., pending: _Optional[int] = ..., queued: _Optional[int] = ..., in_flight: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., expired: _Optional[int] = ..., skipped: _Optional[int] = ..., joined: _Optional[int] = ...) -> None: ...

class JobDeviceList(_message.Message):
    __slots__ = ["device_ids"]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class JobDeviceOutcome(_message.Message):
    __slots__ = ["account_id", "at", "device_id", "error", "request_id", "status", "wave"]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    at: _timestamp_pb2.Timestamp
    device_id: str
    error: str
    request_id: str
    status: _commands_pb2.RequestStatus
    wave: int
    def __init__(self, device_id: _Optional[str] = ..., request_id: _Optional[str] = ..., status: _Optional[_Union[_commands_pb2.RequestStatus, str]] = ..., error: _Optional[str] = ..., wave: _Optional[int] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., account_id: _Optional[str] = ...) -> None: ...

class JobRollout(_message.Message):
    __slots__ = ["abort", "include_joining", "max_in_flight", "max_rate", "waves"]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_JOINING_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_RATE_FIELD_NUMBER: _ClassVar[int]
    WAVES_FIELD_NUMBER: _ClassVar[int]
    abort: JobAbortRule
    include_joining: bool
    max_in_flight: int
    max_rate: float
    waves: _containers.RepeatedCompositeFieldContainer[JobWave]
    def __init__(self, max_rate: _Optional[float] = ..., max_in_flight: _Optional[int] = ..., waves: _Optional[_Iterable[_Union[JobWave, _Mapping]]] = ..., abort: _Optional[_Union[JobAbortRule, _Mapping]] = ..., include_joining: bool = ...) -> None: ...

class JobTarget(_message.Message):
    __slots__ = ["devices", "selector"]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    devices: JobDeviceList
    selector: DeviceSelector
    def __init__(self, devices: _Optional[_Union[JobDeviceList, _Mapping]] = ..., selector: _Optional[_Union[DeviceSelector, _Mapping]] = ...) -> None: ...

class JobWave(_message.Message):
    __slots__ = ["pause_after", "percent"]
    PAUSE_AFTER_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    pause_after: _duration_pb2.Duration
    percent: float
    def __init__(self, percent: _Optional[float] = ..., pause_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "states"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[JobState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[JobState, str]]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ["jobs", "next_page_token"]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StartJobRequest(_message.Message):
    __slots__ = ["command", "description", "dry_run", "job_id", "queue_ttl", "rollout", "state", "target", "wait"]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_TTL_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    command: _commands_pb2.Command
    description: str
    dry_run: bool
    job_id: str
    queue_ttl: _duration_pb2.Duration
    rollout: JobRollout
    state: _commands_pb2.ExpectedState
    target: JobTarget
    wait: _device_bridge_pb2.WaitMode
    def __init__(self, job_id: _Optional[str] = ..., target: _Optional[_Union[JobTarget, _Mapping]] = ..., command: _Optional[_Union[_commands_pb2.Command, _Mapping]] = ..., state: _Optional[_Union[_commands_pb2.ExpectedState, _Mapping]] = ..., wait: _Optional[_Union[_device_bridge_pb2.WaitMode, str]] = ..., queue_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., rollout: _Optional[_Union[JobRollout, _Mapping]] = ..., dry_run: bool = ..., description: _Optional[str] = ...) -> None: ...

class StartJobResponse(_message.Message):
    __slots__ = ["device_ids", "job"]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., device_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TwinFieldMatch(_message.Message):
    __slots__ = ["equals", "event_type", "path"]
    EQUALS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    equals: _struct_pb2.Value
    event_type: str
    path: str
    def __init__(self, event_type: _Optional[str] = ..., path: _Optional[str] = ..., equals: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ["job_id", "resume_after"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    resume_after: int
    def __init__(self, job_id: _Optional[str] = ..., resume_after: _Optional[int] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ["job", "outcome", "sequence"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    job: Job
    outcome: JobDeviceOutcome
    sequence: int
    def __init__(self, sequence: _Optional[int] = ..., job: _Optional[_Union[Job, _Mapping]] = ..., outcome: _Optional[_Union[JobDeviceOutcome, _Mapping]] = ...) -> None: ...

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
