from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hive.bridge.v1 import commands_pb2 as _commands_pb2
from hive.bridge.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
PRESENCE_ALL: Presence
PRESENCE_OFFLINE: Presence
PRESENCE_ONLINE: Presence
PRESENCE_UNSPECIFIED: Presence
WAIT_MODE_ACK: WaitMode
WAIT_MODE_NONE: WaitMode
WAIT_MODE_RESULT: WaitMode
WAIT_MODE_UNSPECIFIED: WaitMode

class CancelRequestRequest(_message.Message):
    __slots__ = ["request_id"]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class CancelRequestResponse(_message.Message):
    __slots__ = ["request"]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: RequestRecord
    def __init__(self, request: _Optional[_Union[RequestRecord, _Mapping]] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ["account_id", "address", "close_code", "close_reason", "connected_at", "device_id", "disconnected_at", "last_alive_at", "online", "protocol", "replica", "reported", "version"]
    class ReportedEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _events_pb2.DeviceEvent
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_events_pb2.DeviceEvent, _Mapping]] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_CODE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ALIVE_AT_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    address: str
    close_code: int
    close_reason: str
    connected_at: _timestamp_pb2.Timestamp
    device_id: str
    disconnected_at: _timestamp_pb2.Timestamp
    last_alive_at: _timestamp_pb2.Timestamp
    online: bool
    protocol: str
    replica: str
    reported: _containers.MessageMap[str, _events_pb2.DeviceEvent]
    version: str
    def __init__(self, device_id: _Optional[str] = ..., account_id: _Optional[str] = ..., address: _Optional[str] = ..., connected_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_alive_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., protocol: _Optional[str] = ..., replica: _Optional[str] = ..., online: bool = ..., disconnected_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., close_code: _Optional[int] = ..., close_reason: _Optional[str] = ..., version: _Optional[str] = ..., reported: _Optional[_Mapping[str, _events_pb2.DeviceEvent]] = ...) -> None: ...

class GetDeviceRequest(_message.Message):
    __slots__ = ["device_id"]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class GetDeviceResponse(_message.Message):
    __slots__ = ["device"]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ["request_id"]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class GetRequestResponse(_message.Message):
    __slots__ = ["request"]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: RequestRecord
    def __init__(self, request: _Optional[_Union[RequestRecord, _Mapping]] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ["account_id", "page_size", "page_token", "presence", "version"]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    presence: Presence
    version: str
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., presence: _Optional[_Union[Presence, str]] = ..., version: _Optional[str] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ["devices", "next_page_token"]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    next_page_token: str
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RequestRecord(_message.Message):
    __slots__ = ["account_id", "ack_latency", "command", "device_id", "error", "expires_at", "queued_at", "request_id", "result", "result_exact_numbers", "result_latency", "sent_at", "status"]
    class ResultExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_LATENCY_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULT_LATENCY_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    ack_latency: _duration_pb2.Duration
    command: _commands_pb2.Command
    device_id: str
    error: str
    expires_at: _timestamp_pb2.Timestamp
    queued_at: _timestamp_pb2.Timestamp
    request_id: str
    result: _struct_pb2.Struct
    result_exact_numbers: _containers.ScalarMap[str, str]
    result_latency: _duration_pb2.Duration
    sent_at: _timestamp_pb2.Timestamp
    status: _commands_pb2.RequestStatus
    def __init__(self, request_id: _Optional[str] = ..., device_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[_commands_pb2.RequestStatus, str]] = ..., queued_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., sent_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ack_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., result_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result_exact_numbers: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ..., command: _Optional[_Union[_commands_pb2.Command, _Mapping]] = ...) -> None: ...

class SendDeviceRequestRequest(_message.Message):
    __slots__ = ["account_id", "command", "connect_timeout", "device_id", "outcome_events", "queue_ttl", "request_id", "state", "wait"]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_EVENTS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_TTL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    command: _commands_pb2.Command
    connect_timeout: _duration_pb2.Duration
    device_id: str
    outcome_events: bool
    queue_ttl: _duration_pb2.Duration
    request_id: str
    state: _commands_pb2.ExpectedState
    wait: WaitMode
    def __init__(self, device_id: _Optional[str] = ..., account_id: _Optional[str] = ..., request_id: _Optional[str] = ..., command: _Optional[_Union[_commands_pb2.Command, _Mapping]] = ..., state: _Optional[_Union[_commands_pb2.ExpectedState, _Mapping]] = ..., wait: _Optional[_Union[WaitMode, str]] = ..., connect_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., queue_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., outcome_events: bool = ...) -> None: ...

class SendDeviceRequestResponse(_message.Message):
    __slots__ = ["ack_latency", "error", "expires_at", "request_id", "result", "result_exact_numbers", "result_latency", "sent_at", "status"]
    class ResultExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACK_LATENCY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULT_LATENCY_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ack_latency: _duration_pb2.Duration
    error: str
    expires_at: _timestamp_pb2.Timestamp
    request_id: str
    result: _struct_pb2.Struct
    result_exact_numbers: _containers.ScalarMap[str, str]
    result_latency: _duration_pb2.Duration
    sent_at: _timestamp_pb2.Timestamp
    status: _commands_pb2.RequestStatus
    def __init__(self, request_id: _Optional[str] = ..., status: _Optional[_Union[_commands_pb2.RequestStatus, str]] = ..., sent_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ack_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., result_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result_exact_numbers: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamPosition(_message.Message):
    __slots__ = ["epoch", "sequence"]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    epoch: str
    sequence: int
    def __init__(self, epoch: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class SubscribeEventsRequest(_message.Message):
    __slots__ = ["account_ids", "device_ids", "resume_after", "types"]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    resume_after: StreamPosition
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., device_ids: _Optional[_Iterable[str]] = ..., types: _Optional[_Iterable[str]] = ..., resume_after: _Optional[_Union[StreamPosition, _Mapping]] = ...) -> None: ...

class SubscribeEventsResponse(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.DeviceEvent
    def __init__(self, event: _Optional[_Union[_events_pb2.DeviceEvent, _Mapping]] = ...) -> None: ...

class WatchDevicesRequest(_message.Message):
    __slots__ = ["account_ids", "alive", "device_ids"]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_IDS_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    alive: bool
    device_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., device_ids: _Optional[_Iterable[str]] = ..., alive: bool = ...) -> None: ...

class WatchDevicesResponse(_message.Message):
    __slots__ = ["device", "event", "snapshot_complete"]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    event: _events_pb2.DeviceEvent
    snapshot_complete: bool
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ..., event: _Optional[_Union[_events_pb2.DeviceEvent, _Mapping]] = ..., snapshot_complete: bool = ...) -> None: ...

class WaitMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Presence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
