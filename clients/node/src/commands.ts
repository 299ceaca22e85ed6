// Builders for the five command kinds, from plain values. Struct fields are
// plain JSON objects (ts-proto maps google.protobuf.Struct to them), so
// nested values need no wrapping.
import {
  AppInstanceCommand_Action,
  Application,
  Command,
  DeviceCommand_Action,
  SchedulerAction,
  SchedulerAction_Action,
} from "./gen/hive/bridge/v1/commands";

type Json = { [key: string]: any };

function action<T>(enumObj: Record<string, unknown>, name: string, kind: string): T {
  const value = enumObj["ACTION_" + name.toUpperCase()];
  if (typeof value !== "number" || value === 0) {
    const choices = Object.keys(enumObj)
      .filter((k) => k.startsWith("ACTION_") && k !== "ACTION_UNSPECIFIED")
      .map((k) => k.slice("ACTION_".length).toLowerCase());
    throw new RangeError(`${kind} action "${name}": expected one of ${choices.join(", ")}`);
  }
  return value as T;
}

/** UpgradeDevice.upgrade: update to `version` (undefined: the newest). */
export function upgradeDevice(opts: { version?: string; force?: boolean } = {}): Command {
  return Command.fromPartial({ upgradeDevice: { action: 1, version: opts.version, force: opts.force } });
}

/** DeviceCommand.<action>: "check_disk_space" or "reboot". */
export function deviceCommand(name: "check_disk_space" | "reboot", args?: Json): Command {
  return Command.fromPartial({
    deviceCommand: { action: action<DeviceCommand_Action>(DeviceCommand_Action, name, "DeviceCommand"), arguments: args },
  });
}

/** SchedulerAction.<action>: "start" or "stop" an app instance. */
export function schedulerAction(
  name: "start" | "stop",
  fields: Partial<Omit<SchedulerAction, "action" | "application">> & { application?: Partial<Application> } = {},
): Command {
  return Command.fromPartial({
    schedulerAction: { ...fields, action: action<SchedulerAction_Action>(SchedulerAction_Action, name, "SchedulerAction") },
  });
}

/** AppInstanceCommand.<action>: "create_user" or "configure". */
export function appInstanceCommand(
  name: "create_user" | "configure",
  fields: { instance?: string; account?: string; arguments?: Json } = {},
): Command {
  return Command.fromPartial({
    appInstanceCommand: {
      ...fields,
      action: action<AppInstanceCommand_Action>(AppInstanceCommand_Action, name, "AppInstanceCommand"),
    },
  });
}

/** Any wire command "<Kind>.<action>" with a free-form payload. */
export function raw(command: string, payload: Json = {}): Command {
  return Command.fromPartial({ raw: { command, payload } });
}
