// A TypeScript consumer of the installed package: compiled (not run) by
// tests/sdk/node_sdk.sh to prove the shipped types work for a user.
import { Bridge, BridgeError, Status, commands, newRequestId, DeviceEvent, SendDeviceRequestResponse } from "@hivebridge/client";

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
