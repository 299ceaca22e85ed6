from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

APP_INSTANCE_STATE_RUNNING: AppInstanceState
APP_INSTANCE_STATE_STOPPED: AppInstanceState
APP_INSTANCE_STATE_UNSPECIFIED: AppInstanceState
DESCRIPTOR: _descriptor.FileDescriptor
REQUEST_STATUS_ACKED: RequestStatus
REQUEST_STATUS_CANCELLED: RequestStatus
REQUEST_STATUS_EXPIRED: RequestStatus
REQUEST_STATUS_FAILED: RequestStatus
REQUEST_STATUS_QUEUED: RequestStatus
REQUEST_STATUS_SENT: RequestStatus
REQUEST_STATUS_SUCCEEDED: RequestStatus
REQUEST_STATUS_UNCONFIRMED: RequestStatus
REQUEST_STATUS_UNSPECIFIED: RequestStatus

class AppInstanceCommand(_message.Message):
    __slots__ = ["account", "action", "arguments", "exact_numbers", "extra", "instance"]
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ACTION_CONFIGURE: AppInstanceCommand.Action
    ACTION_CREATE_USER: AppInstanceCommand.Action
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_UNSPECIFIED: AppInstanceCommand.Action
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    account: str
    action: AppInstanceCommand.Action
    arguments: _struct_pb2.Struct
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    instance: str
    def __init__(self, action: _Optional[_Union[AppInstanceCommand.Action, str]] = ..., account: _Optional[str] = ..., instance: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ["appstore", "exact_numbers", "extra", "name", "version"]
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPSTORE_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    appstore: str
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    name: str
    version: str
    def __init__(self, appstore: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ["app_instance_command", "device_command", "raw", "scheduler_action", "upgrade_device"]
    APP_INSTANCE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_COMMAND_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_ACTION_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_DEVICE_FIELD_NUMBER: _ClassVar[int]
    app_instance_command: AppInstanceCommand
    device_command: DeviceCommand
    raw: RawCommand
    scheduler_action: SchedulerAction
    upgrade_device: UpgradeDevice
    def __init__(self, upgrade_device: _Optional[_Union[UpgradeDevice, _Mapping]] = ..., device_command: _Optional[_Union[DeviceCommand, _Mapping]] = ..., scheduler_action: _Optional[_Union[SchedulerAction, _Mapping]] = ..., app_instance_command: _Optional[_Union[AppInstanceCommand, _Mapping]] = ..., raw: _Optional[_Union[RawCommand, _Mapping]] = ...) -> None: ...

class DeviceCommand(_message.Message):
    __slots__ = ["action", "arguments", "exact_numbers", "extra"]
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_CHECK_DISK_SPACE: DeviceCommand.Action
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_REBOOT: DeviceCommand.Action
    ACTION_UNSPECIFIED: DeviceCommand.Action
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    action: DeviceCommand.Action
    arguments: _struct_pb2.Struct
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    def __init__(self, action: _Optional[_Union[DeviceCommand.Action, str]] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeviceRequest(_message.Message):
    __slots__ = ["account_id", "command", "device_id", "exact_numbers", "extra", "request_id", "state"]
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    command: Command
    device_id: str
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    request_id: str
    state: ExpectedState
    def __init__(self, request_id: _Optional[str] = ..., device_id: _Optional[str] = ..., account_id: _Optional[str] = ..., command: _Optional[_Union[Command, _Mapping]] = ..., state: _Optional[_Union[ExpectedState, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ExpectedState(_message.Message):
    __slots__ = ["app_instance_id", "device_id", "exact_numbers", "extra", "force", "state"]
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    app_instance_id: str
    device_id: str
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    force: bool
    state: AppInstanceState
    def __init__(self, app_instance_id: _Optional[str] = ..., device_id: _Optional[str] = ..., force: bool = ..., state: _Optional[_Union[AppInstanceState, str]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Link(_message.Message):
    __slots__ = ["domain", "exact_numbers", "extra", "token"]
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    domain: str
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    token: str
    def __init__(self, domain: _Optional[str] = ..., token: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RawCommand(_message.Message):
    __slots__ = ["command", "payload", "payload_exact_numbers"]
    class PayloadExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    command: str
    payload: _struct_pb2.Struct
    payload_exact_numbers: _containers.ScalarMap[str, str]
    def __init__(self, command: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., payload_exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SchedulerAction(_message.Message):
    __slots__ = ["account", "action", "application", "encrypted_storage_apikeys", "exact_numbers", "extra", "instance", "links", "storage_apikeys"]
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LinksEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Link
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Link, _Mapping]] = ...) -> None: ...
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_START: SchedulerAction.Action
    ACTION_STOP: SchedulerAction.Action
    ACTION_UNSPECIFIED: SchedulerAction.Action
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_STORAGE_APIKEYS_FIELD_NUMBER: _ClassVar[int]
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_APIKEYS_FIELD_NUMBER: _ClassVar[int]
    account: str
    action: SchedulerAction.Action
    application: Application
    encrypted_storage_apikeys: str
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    instance: str
    links: _containers.MessageMap[str, Link]
    storage_apikeys: _struct_pb2.Struct
    def __init__(self, action: _Optional[_Union[SchedulerAction.Action, str]] = ..., account: _Optional[str] = ..., application: _Optional[_Union[Application, _Mapping]] = ..., encrypted_storage_apikeys: _Optional[str] = ..., instance: _Optional[str] = ..., links: _Optional[_Mapping[str, Link]] = ..., storage_apikeys: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpgradeDevice(_message.Message):
    __slots__ = ["action", "exact_numbers", "extra", "force", "version"]
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    class ExactNumbersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_UNSPECIFIED: UpgradeDevice.Action
    ACTION_UPGRADE: UpgradeDevice.Action
    EXACT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    action: UpgradeDevice.Action
    exact_numbers: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    force: bool
    version: str
    def __init__(self, action: _Optional[_Union[UpgradeDevice.Action, str]] = ..., version: _Optional[str] = ..., force: bool = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exact_numbers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RequestStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class AppInstanceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
