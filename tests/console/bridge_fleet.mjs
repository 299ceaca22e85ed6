// A real hivebridge with its HTTP gateway and a backend policy, plus real
// simulated devices (hive-device-sim, one process each, so their ids and
// accounts are known exactly), on loopback ports the kernel picks. The same
// approach as tests/sdk/bridge_harness.py: ports and readiness come from the
// bridge's own log lines (`event=started ... http_port=`, `event=device_connected`).
//
//   const fleet = await startFleet({ hivebridge, deviceSim, devices: [{ id, account }], stateDir: true });
//   fleet.httpPort; fleet.token; fleet.log(); await fleet.stop();
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const STARTED = /event=started\b.*\bws_port=(\d+).*\bhttp_port=(\d+)/;

// Polls `predicate` every 50 ms until it returns a truthy value (returned)
// or `timeoutMs` passes (throws naming `what`).
export async function waitFor(what, predicate, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopProcess(child) {
  if (exited(child)) return;
  const done = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
  await done;
  clearTimeout(timer);
}

// `stateDir`: start the bridge with --state-dir (in the fleet's temporary
// directory), which queued requests and so fleet jobs need.
export async function startFleet({ hivebridge, deviceSim, devices, eventRate = 8, stateDir = false }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hive-console-"));
  const secretFile = path.join(dir, "jwt-secret");
  fs.writeFileSync(secretFile, crypto.randomBytes(36).toString("base64url"));
  const token = crypto.randomBytes(18).toString("base64url");
  const policyFile = path.join(dir, "backend-policy");
  fs.writeFileSync(policyFile, `console-test token:${token} *\n`);
  const logPath = path.join(dir, "hivebridge.log");
  const log = () => fs.readFileSync(logPath, "utf8");

  const bridgeLog = fs.openSync(logPath, "a");
  const bridge = spawn(hivebridge, [
    "--jwt-secret-file", secretFile, "--ws-listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0",
    "--http-listen=127.0.0.1:0", "--backend-policy-file", policyFile,
    ...(stateDir ? ["--state-dir", path.join(dir, "state")] : []),
  ], { stdio: ["ignore", "ignore", bridgeLog] });
  const children = [bridge];
  const stop = async () => {
    for (const child of children.reverse()) await stopProcess(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [, wsPort, httpPort] = await waitFor("hivebridge to start", () => {
      if (exited(bridge)) throw new Error(`hivebridge exited at start:\n${log()}`);
      return log().match(STARTED);
    });
    for (const device of devices) {
      const out = fs.openSync(path.join(dir, `sim-${device.id}.log`), "a");
      children.push(spawn(deviceSim, [
        "--url", `ws://127.0.0.1:${wsPort}/v1/devices`, "--jwt-secret-file", secretFile, "--devices", "1",
        "--device-id", device.id, "--account", device.account, "--on-request", "ack-result",
        "--event-rate", String(eventRate), "--quiet",
      ], { stdio: ["ignore", out, out] }));
    }
    for (const device of devices) {
      await waitFor(`device ${device.id} to connect`, () => log().includes(`event=device_connected device=${device.id} `));
    }
    return { httpPort: Number(httpPort), token, log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
