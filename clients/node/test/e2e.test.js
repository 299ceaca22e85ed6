// @hivebridge/client against real bridges and a simulated device, run under
// tests/sdk/bridge_harness.py (the HIVE_* variables it documents) by
// tests/sdk/node_sdk.sh, from a project that installed the packed tarball.
const test = require("node:test");
const assert = require("node:assert");
const { execSync, spawn } = require("node:child_process");
const { Bridge, BridgeError, JobState, Status, RequestStatus, commands, eventsPb, newRequestId } = require("@hivebridge/client");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run under tests/sdk/bridge_harness.py`);
  return v;
};
const device = env("HIVE_DEVICE_ID");
const account = env("HIVE_ACCOUNT_ID");
const instance = "ad51b914-688a-4a5f-a073-5c5121a010e2";
const everyKind = {
  upgradeDevice: commands.upgradeDevice({ version: "2.1.0" }),
  deviceCommand: commands.deviceCommand("check_disk_space"),
  schedulerAction: commands.schedulerAction("stop", { instance, account, application: { appstore: "Fractal App Store", name: "wikijs" } }),
  appInstanceCommand: commands.appInstanceCommand("create_user", { instance, arguments: { name: "ann" } }),
  raw: commands.raw("DeviceCommand.check_disk_space", { path: "/data" }),
};
const tls = { rootCa: env("HIVE_TLS_CA"), serverName: env("HIVE_TLS_SERVER_NAME") };

async function take(subscription, n, timeoutMs = 15000, until) {
  const timer = setTimeout(() => subscription.cancel(), timeoutMs);
  const events = [];
  try {
    while (true) {
      const event = await subscription.next();
      events.push(event);
      if (until ? until(event) : events.length === n) return events;
    }
  } finally {
    clearTimeout(timer);
  }
}

const bridge = new Bridge(env("HIVE_BRIDGE_TARGET"), { timeoutMs: 15000 });
test.after(() => bridge.close());

test("every command kind in every wait mode", async () => {
  const want = { none: RequestStatus.REQUEST_STATUS_SENT, ack: RequestStatus.REQUEST_STATUS_ACKED, result: RequestStatus.REQUEST_STATUS_SUCCEEDED };
  for (const [kind, command] of Object.entries(everyKind)) {
    for (const [wait, status] of Object.entries(want)) {
      const reply = await bridge.send({ deviceId: device, command, wait });
      assert.strictEqual(reply.status, status, `${kind} wait=${wait}`);
    }
  }
  const reply = await bridge.send({ deviceId: device, command: everyKind.deviceCommand, wait: "result" });
  assert.strictEqual(typeof reply.result, "object", "the result Struct is a plain object");
});

test("a retry with the same request id gets the stored outcome; errors by status code", async () => {
  const requestId = newRequestId();
  const first = await bridge.send({ deviceId: device, command: everyKind.raw, requestId, wait: "result" });
  const again = await bridge.send({ deviceId: device, command: everyKind.raw, requestId, wait: "result" });
  assert.strictEqual(again.requestId, requestId);
  assert.deepStrictEqual(again.sentAt, first.sentAt, "sent once: the retry reports the first send");
  await assert.rejects(bridge.send({ deviceId: "3f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", command: everyKind.raw }),
    (e) => e instanceof BridgeError && e.code === Status.NOT_FOUND && /not connected/.test(e.details));
  await assert.rejects(bridge.send({ deviceId: device, command: everyKind.upgradeDevice, requestId }),
    (e) => e.code === Status.INVALID_ARGUMENT);
});

test("list and get the connected device; subscribe with filters; resume after a position", async () => {
  const devices = await bridge.listDevices({ accountId: account });
  assert.deepStrictEqual(devices.map((d) => d.deviceId), [device]);
  assert.strictEqual((await bridge.getDevice(device)).accountId, account);

  const filtered = bridge.subscribe({ deviceIds: [device], types: ["instances", "device-state"] });
  const first = await take(filtered, 3);
  filtered.cancel();
  for (const e of first) {
    assert.strictEqual(e.deviceId, device);
    assert.ok(["instances", "device-state"].includes(e.type), e.type);
  }
  const last = first[first.length - 1];
  const resumed = bridge.subscribe({ deviceIds: [device], resumeAfter: filtered.position });
  const [next] = await take(resumed, 1);
  resumed.cancel();
  assert.strictEqual(next.epoch, last.epoch);
  assert.ok(next.sequence > last.sequence);
});

test("TLS with a bearer token under a backend policy; a wrong token is refused clearly", async () => {
  const tlsDevice = env("HIVE_TLS_DEVICE_ID");
  const granted = new Bridge(env("HIVE_TLS_TARGET"), { tls, token: env("HIVE_TOKEN"), timeoutMs: 15000 });
  try {
    for (let i = 0; ; i++) {
      const devices = await granted.listDevices({ accountId: account });
      if (devices.some((d) => d.deviceId === tlsDevice)) break;
      assert.ok(i < 300, "the TLS bridge's device never connected");
      await new Promise((r) => setTimeout(r, 50));
    }
    const reply = await granted.send({ deviceId: tlsDevice, command: everyKind.schedulerAction, wait: "result", requestId: newRequestId() });
    assert.strictEqual(reply.status, RequestStatus.REQUEST_STATUS_SUCCEEDED);
    const other = env("HIVE_OTHER_ACCOUNT_ID");
    await assert.rejects(granted.listDevices({ accountId: other }), (e) => e.code === Status.PERMISSION_DENIED && e.details.includes(other));
  } finally {
    granted.close();
  }
  const wrong = new Bridge(env("HIVE_TLS_TARGET"), { tls, token: "wrong-token" });
  try {
    await assert.rejects(wrong.listDevices(), (e) => e.code === Status.UNAUTHENTICATED && e.details && !e.details.includes("wrong-token"));
    await assert.rejects(take(wrong.subscribe(), 1), (e) => e.code === Status.UNAUTHENTICATED, "a subscription does not retry a wrong token");
  } finally {
    wrong.close();
  }
});

test("a request queued with queueTtlMs for an offline device; getRequest; cancelRequest", async () => {
  const offline = newRequestId(); // a device id that never connects: its requests stay queued
  const queue = async (command) => {
    const reply = await bridge.send({ deviceId: offline, command, requestId: newRequestId(), queueTtlMs: 600_000 });
    assert.strictEqual(reply.status, RequestStatus.REQUEST_STATUS_QUEUED);
    assert.ok(reply.expiresAt instanceof Date, "a queued request has an expiry");
    return reply;
  };
  const queued = await queue(everyKind.deviceCommand);
  const record = await bridge.getRequest(queued.requestId);
  assert.strictEqual(record.status, RequestStatus.REQUEST_STATUS_QUEUED);
  assert.strictEqual(record.deviceId, offline);

  const other = await queue(everyKind.upgradeDevice);
  const cancelled = await bridge.cancelRequest(other.requestId);
  assert.strictEqual(cancelled.status, RequestStatus.REQUEST_STATUS_CANCELLED);
  assert.strictEqual((await bridge.getRequest(other.requestId)).status, RequestStatus.REQUEST_STATUS_CANCELLED);
  assert.strictEqual((await bridge.getRequest(queued.requestId)).status, RequestStatus.REQUEST_STATUS_QUEUED,
    "cancelling one request leaves the other queued");
  const unknown = newRequestId();
  await assert.rejects(bridge.cancelRequest(unknown),
    (e) => e instanceof BridgeError && e.code === Status.NOT_FOUND && e.details.includes(unknown));
});

test("watchDevices starts with a snapshot holding the connected device", async () => {
  const watch = bridge.watchDevices({ accountIds: [account] });
  let snapshot;
  try {
    snapshot = await watch.snapshot();
  } finally {
    watch.cancel();
  }
  const mine = snapshot.find((d) => d.deviceId === device);
  assert.ok(mine, `snapshot ${JSON.stringify(snapshot.map((d) => d.deviceId))} lacks ${device}`);
  assert.strictEqual(mine.online, true);
  assert.strictEqual(mine.accountId, account);
  const other = bridge.watchDevices({ accountIds: [env("HIVE_OTHER_ACCOUNT_ID")] });
  try {
    assert.deepStrictEqual(await other.snapshot(), []);
  } finally {
    other.cancel();
  }
});

test("a subscription resumes by itself after the bridge restarts", async () => {
  const subscription = bridge.subscribe({ deviceIds: [device] });
  const [before] = await take(subscription, 1);
  execSync(env("HIVE_RESTART_COMMAND"), { stdio: "inherit" });
  const after = await take(subscription, 0, 30000, (e) => e.epoch !== before.epoch && !e.gap);
  subscription.cancel();
  assert.ok(subscription.reconnects >= 1, `reconnects = ${subscription.reconnects}`);
  assert.ok(after.some((e) => e.gap), "a new epoch starts with a gap event");
  const reply = await bridge.send({ deviceId: device, command: everyKind.deviceCommand, wait: "result", requestId: newRequestId(), connectTimeoutMs: 10000 });
  assert.strictEqual(reply.status, RequestStatus.REQUEST_STATUS_SUCCEEDED);
});

test("a fleet job over the device: dry run, watched to COMPLETED with its outcome, get, ls, cancel", async () => {
  const input = {
    command: everyKind.deviceCommand,
    deviceIds: [device],
    queueTtlMs: 60_000,
    maxRate: 10,
    waves: [{ percent: 50 }, { percent: 100 }],
    abort: { maxFailureRatio: 0.5 },
    wait: "result",
  };
  const dry = await bridge.startJob({ ...input, dryRun: true });
  assert.deepStrictEqual(dry.deviceIds, [device]);
  const started = await bridge.startJob(input);
  const jobId = started.job.jobId;
  const watch = bridge.watchJob(jobId);
  const timer = setTimeout(() => watch.cancel(), 30_000);
  const outcomes = [];
  try {
    for await (const change of watch) if (change.outcome) outcomes.push(change.outcome);
  } finally {
    clearTimeout(timer);
  }
  assert.deepStrictEqual(outcomes.map((o) => [o.deviceId, o.status]), [[device, RequestStatus.REQUEST_STATUS_SUCCEEDED]]);
  assert.strictEqual(watch.job.state, JobState.JOB_STATE_COMPLETED);
  const job = await bridge.getJob(jobId);
  assert.strictEqual(job.state, JobState.JOB_STATE_COMPLETED);
  assert.strictEqual(job.counters.succeeded, 1);
  assert.ok((await bridge.listJobs({ states: [JobState.JOB_STATE_COMPLETED] })).some((j) => j.jobId === jobId));
  assert.strictEqual((await bridge.cancelJob(jobId)).state, JobState.JOB_STATE_COMPLETED, "an ended job is returned as it is");
  await assert.rejects(bridge.getJob(newRequestId()), (e) => e instanceof BridgeError && e.code === Status.NOT_FOUND);
});

// The slow-subscriber tests: on the harness's extra bridge (--subscriber-queue=8)
// a device of the test's own sends warm-up events until told to go, then
// 2,000 events marked 0 ... 1,999 at once (~500 KB: far over gRPC's
// flow-control window) while the subscriber reads nothing.
const BURST = 2000;

async function readSlowBurst(opts) {
  const burstDevice = newRequestId(); // a UUID: a device of the test's own
  const sender = spawn(`${env("HIVE_EXTRA_DEVICE_COMMAND")} ${burstDevice} ${BURST}`, {
    shell: true,
    stdio: ["pipe", "inherit", "inherit"],
  });
  const exited = new Promise((resolve) => sender.on("exit", resolve));
  const extra = new Bridge(env("HIVE_EXTRA_TARGET"), { timeoutMs: 15000 });
  const subscription = extra.subscribe({ deviceIds: [burstDevice], types: ["sdk-warm", "sdk-burst"] }, opts);
  const timer = setTimeout(() => subscription.cancel(), 60000);
  try {
    // The first warm-up: the stream is open at the bridge.
    assert.strictEqual((await subscription.next()).type, "sdk-warm");
    sender.stdin.end("go\n");
    assert.strictEqual(await exited, 0, "the device command failed");
    const markers = [];
    const gaps = [];
    while (markers[markers.length - 1] !== BURST - 1) {
      const event = await subscription.next();
      if (event.gap) gaps.push(event.gap);
      else if (event.type === "sdk-burst") markers.push(event.extra.marker);
    }
    return { markers, gaps, subscription };
  } finally {
    clearTimeout(timer);
    subscription.cancel();
    sender.kill();
    extra.close();
  }
}

test("a slow subscriber's gap is recovered from the bridge's history: every event once, in order", async () => {
  const { markers, gaps, subscription } = await readSlowBurst({});
  assert.deepStrictEqual(gaps, []);
  assert.deepStrictEqual(markers, Array.from({ length: BURST }, (_, i) => i));
  assert.ok(subscription.gapRecoveries >= 1, `gapRecoveries ${subscription.gapRecoveries}`);
  assert.strictEqual(subscription.reconnects, 0);
});

test("with recoverGaps: false the slow subscriber's gap is delivered", async () => {
  const { markers, gaps, subscription } = await readSlowBurst({ recoverGaps: false });
  assert.ok(gaps.length > 0 && gaps.every((g) => g.reason === eventsPb.GapReason.GAP_REASON_SLOW_SUBSCRIBER), JSON.stringify(gaps));
  assert.ok(markers.length < BURST, `${markers.length} markers`);
  assert.strictEqual(subscription.gapRecoveries, 0);
});
