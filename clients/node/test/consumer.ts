// A TypeScript consumer of the installed package: compiled (not run) by
// tests/sdk/node_sdk.sh to prove the shipped types work for a user.
import {
  Bridge,
  BridgeError,
  Status,
  commands,
  newRequestId,
  Device,
  DeviceEvent,
  RequestRecord,
  RequestStatus,
  SendDeviceRequestResponse,
  WatchDevicesResponse,
} from "@hivebridge/client";

export async function example(target: string, deviceId: string): Promise<string> {
  const bridge = new Bridge(target, { token: "t", tls: { rootCa: "ca.pem" }, timeoutMs: 5000 });
  try {
    const reply: SendDeviceRequestResponse = await bridge.send({
      deviceId,
      command: commands.schedulerAction("stop", { instance: "i", application: { name: "wikijs" } }),
      wait: "result",
      requestId: newRequestId(),
    });
    const disk: number | undefined = reply.result?.["free"];
    for await (const event of bridge.subscribe({ types: ["device-state"] })) {
      const e: DeviceEvent = event;
      return `${e.deviceId} ${e.sequence} ${disk}`;
    }
    return "";
  } catch (err) {
    if (err instanceof BridgeError && err.code === Status.NOT_FOUND) return "not connected";
    throw err;
  } finally {
    bridge.close();
  }
}

export async function queueAndWatch(target: string, deviceId: string): Promise<string[]> {
  const bridge = new Bridge(target);
  try {
    const queued: SendDeviceRequestResponse = await bridge.send({
      deviceId,
      command: commands.upgradeDevice({ version: "2.1.0" }),
      requestId: newRequestId(),
      queueTtlMs: 3_600_000,
    });
    const record: RequestRecord = await bridge.getRequest(queued.requestId);
    if (record.status === RequestStatus.REQUEST_STATUS_QUEUED) await bridge.cancelRequest(record.requestId);
    const watch = bridge.watchDevices({ deviceIds: [deviceId] });
    const devices: Device[] = await watch.snapshot();
    for await (const change of watch) {
      const c: WatchDevicesResponse = change;
      if (c.event) break;
    }
    return devices.map((d) => d.deviceId);
  } finally {
    bridge.close();
  }
}
