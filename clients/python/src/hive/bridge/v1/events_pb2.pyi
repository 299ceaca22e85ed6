from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hive.bridge.v1 import commands_pb2 as _commands_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
GAP_REASON_EPOCH_CHANGED: GapReason
GAP_REASON_HISTORY_EXPIRED: GapReason
GAP_REASON_SLOW_SUBSCRIBER: GapReason
GAP_REASON_UNSPECIFIED: GapReason

class AppInstanceStatus(_message.Message):
    __slots__ = ["application", "exact_numbers", "extra", "health", "instance", "state"]
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    application: _commands_pb2.Application
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    health: str
    instance: str
    state: str
    def __init__(self, instance: _Optional[str] = ..., application: _Optional[_Union[_commands_pb2.Application, _Mapping]] = ..., state: _Optional[str] = ..., health: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeviceAlive(_message.Message):
    __slots__ = ["address"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class DeviceConnected(_message.Message):
    __slots__ = ["address", "protocol"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    address: str
    protocol: str
    def __init__(self, address: _Optional[str] = ..., protocol: _Optional[str] = ...) -> None: ...

class DeviceDisconnected(_message.Message):
    __slots__ = ["close_code", "reason"]
    CLOSE_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    close_code: int
    reason: str
    def __init__(self, close_code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DeviceEvent(_message.Message):
    __slots__ = ["account_id", "alive", "connected", "device_id", "device_state", "device_version", "disconnected", "epoch", "exact_numbers", "extra", "gap", "generic", "instance_state", "instances", "job_outcome", "received_at", "request_outcome", "schema_error", "sequence", "service", "type"]
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_STATE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTED_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    GENERIC_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_STATE_FIELD_NUMBER: _ClassVar[int]
    JOB_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ERROR_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    alive: DeviceAlive
    connected: DeviceConnected
    device_id: str
    device_state: DeviceState
    device_version: DeviceVersion
    disconnected: DeviceDisconnected
    epoch: str
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    gap: Gap
    generic: GenericEvent
    instance_state: InstanceState
    instances: Instances
    job_outcome: JobOutcome
    received_at: _timestamp_pb2.Timestamp
    request_outcome: RequestOutcome
    schema_error: str
    sequence: int
    service: str
    type: str
    def __init__(self, sequence: _Optional[int] = ..., epoch: _Optional[str] = ..., received_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., device_id: _Optional[str] = ..., account_id: _Optional[str] = ..., service: _Optional[str] = ..., type: _Optional[str] = ..., instances: _Optional[_Union[Instances, _Mapping]] = ..., instance_state: _Optional[_Union[InstanceState, _Mapping]] = ..., device_version: _Optional[_Union[DeviceVersion, _Mapping]] = ..., device_state: _Optional[_Union[DeviceState, _Mapping]] = ..., alive: _Optional[_Union[DeviceAlive, _Mapping]] = ..., connected: _Optional[_Union[DeviceConnected, _Mapping]] = ..., disconnected: _Optional[_Union[DeviceDisconnected, _Mapping]] = ..., generic: _Optional[_Union[GenericEvent, _Mapping]] = ..., gap: _Optional[_Union[Gap, _Mapping]] = ..., request_outcome: _Optional[_Union[RequestOutcome, _Mapping]] = ..., job_outcome: _Optional[_Union[JobOutcome, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ..., schema_error: _Optional[str] = ...) -> None: ...

class DeviceState(_message.Message):
    __slots__ = ["disk_free_bytes", "disk_total_bytes", "message", "state"]
    DISK_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    disk_free_bytes: int
    disk_total_bytes: int
    message: str
    state: str
    def __init__(self, state: _Optional[str] = ..., message: _Optional[str] = ..., disk_free_bytes: _Optional[int] = ..., disk_total_bytes: _Optional[int] = ...) -> None: ...

class DeviceVersion(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class Gap(_message.Message):
    __slots__ = ["missed", "reason"]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    missed: int
    reason: GapReason
    def __init__(self, missed: _Optional[int] = ..., reason: _Optional[_Union[GapReason, str]] = ...) -> None: ...

class GenericEvent(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class InstanceState(_message.Message):
    __slots__ = ["encrypted_storage_apikeys", "instance", "state", "storage_apikeys"]
    ENCRYPTED_STORAGE_APIKEYS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STORAGE_APIKEYS_FIELD_NUMBER: _ClassVar[int]
    encrypted_storage_apikeys: str
    instance: str
    state: str
    storage_apikeys: _struct_pb2.Struct
    def __init__(self, instance: _Optional[str] = ..., state: _Optional[str] = ..., storage_apikeys: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., encrypted_storage_apikeys: _Optional[str] = ...) -> None: ...

class Instances(_message.Message):
    __slots__ = ["instances"]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[AppInstanceStatus]
    def __init__(self, instances: _Optional[_Iterable[_Union[AppInstanceStatus, _Mapping]]] = ...) -> None: ...

class JobOutcome(_message.Message):
    __slots__ = ["error", "job_id", "request_id", "status", "wave"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    error: str
    job_id: str
    request_id: str
    status: _commands_pb2.RequestStatus
    wave: int
    def __init__(self, job_id: _Optional[str] = ..., request_id: _Optional[str] = ..., status: _Optional[_Union[_commands_pb2.RequestStatus, str]] = ..., error: _Optional[str] = ..., wave: _Optional[int] = ...) -> None: ...

class RequestOutcome(_message.Message):
    __slots__ = ["error", "request_id", "result", "status"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    error: str
    request_id: str
    result: _struct_pb2.Struct
    status: _commands_pb2.RequestStatus
    def __init__(self, request_id: _Optional[str] = ..., status: _Optional[_Union[_commands_pb2.RequestStatus, str]] = ..., error: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GapReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
