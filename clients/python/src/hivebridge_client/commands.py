"""Builders for the five command kinds, taking plain Python values.

    from hivebridge_client import commands
    commands.scheduler_action("stop", instance=INSTANCE_ID,
                              application={"appstore": "Fractal App Store", "name": "wikijs"})
    commands.device_command("check_disk_space")
    commands.upgrade_device(version="2.1.0")
    commands.app_instance_command("create_user", instance=INSTANCE_ID, arguments={"name": "ann"})
    commands.raw("SchedulerAction.stop", {"instance": INSTANCE_ID})

An action is its wire name ("stop", "check_disk_space") or the generated
enum value. Dicts become google.protobuf.Struct; every builder returns a
hive.bridge.v1 Command message, which send() also accepts directly.
"""

from google.protobuf import json_format, struct_pb2

from hive.bridge.v1 import commands_pb2 as pb

Command = pb.Command


def _action(enum, action, kind):
    if isinstance(action, int):
        return action
    try:
        return enum.Value("ACTION_" + action.upper())
    except ValueError:
        names = [n[len("ACTION_"):].lower() for n in enum.keys() if n != "ACTION_UNSPECIFIED"]
        raise ValueError("%s action %r: expected one of %s" % (kind, action, ", ".join(names))) from None


def to_struct(value):
    """A google.protobuf.Struct from a dict (a Struct passes through)."""
    if value is None or isinstance(value, struct_pb2.Struct):
        return value
    s = struct_pb2.Struct()
    s.update(value)
    return s


def from_struct(struct):
    """A plain dict from a google.protobuf.Struct, nested values included."""
    return json_format.MessageToDict(struct) if struct is not None else {}


def _message(cls, value):
    if value is None or isinstance(value, cls):
        return value
    return json_format.ParseDict(value, cls())


def upgrade_device(*, version=None, force=None):
    """UpgradeDevice.upgrade: update to `version` (None: the newest)."""
    return Command(upgrade_device=pb.UpgradeDevice(
        action=pb.UpgradeDevice.ACTION_UPGRADE, version=version, force=force))


def device_command(action, *, arguments=None):
    """DeviceCommand.<action>: "check_disk_space" or "reboot"."""
    return Command(device_command=pb.DeviceCommand(
        action=_action(pb.DeviceCommand.Action, action, "DeviceCommand"),
        arguments=to_struct(arguments)))


def scheduler_action(action, *, instance=None, account=None, application=None, links=None,
                     storage_apikeys=None, encrypted_storage_apikeys=None):
    """SchedulerAction.<action>: "start" or "stop" an app instance.

    application: an Application message or a dict {"appstore", "name", "version"};
    links: {name: Link or {"domain", "token"}}.
    """
    return Command(scheduler_action=pb.SchedulerAction(
        action=_action(pb.SchedulerAction.Action, action, "SchedulerAction"),
        instance=instance, account=account,
        application=_message(pb.Application, application),
        links={k: _message(pb.Link, v) for k, v in (links or {}).items()},
        storage_apikeys=to_struct(storage_apikeys),
        encrypted_storage_apikeys=encrypted_storage_apikeys))


def app_instance_command(action, *, instance=None, account=None, arguments=None):
    """AppInstanceCommand.<action>: "create_user" or "configure"."""
    return Command(app_instance_command=pb.AppInstanceCommand(
        action=_action(pb.AppInstanceCommand.Action, action, "AppInstanceCommand"),
        instance=instance, account=account, arguments=to_struct(arguments)))


def raw(command, payload=None):
    """Any wire command "<Kind>.<action>" with a free-form payload dict."""
    return Command(raw=pb.RawCommand(command=command, payload=to_struct(payload or {})))
