// @hivebridge/client's own logic, without a bridge: the retry rule (only
// with a request id, only retryable codes), request building, the command
// builders and errors. Runs against the installed package.
const test = require("node:test");
const assert = require("node:assert");
const { Bridge, BridgeError, Status, commands, newRequestId, sendRequest, startJobRequest, WaitMode } = require("@hivebridge/client");

function scripted(...codes) {
  const requests = [];
  const client = {
    sendDeviceRequest(req, md, opts, cb) {
      requests.push({ req, md, opts });
      const code = codes.shift();
      if (code !== undefined) cb(Object.assign(new Error("no"), { code, details: "bridge says no" }));
      else cb(null, { requestId: req.requestId, status: 2 });
    },
    close() {},
  };
  const bridge = new Bridge("unused:1", { token: "t0k" }, client);
  bridge.sleeps = [];
  bridge.sleep = async (ms) => void bridge.sleeps.push(ms);
  return { bridge, requests };
}

const device = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
const command = commands.raw("A.b", { x: { y: [1, "two"] } });

test("with a request id, UNAVAILABLE and RESOURCE_EXHAUSTED are retried with the same request", async () => {
  const { bridge, requests } = scripted(Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED);
  const id = newRequestId();
  const reply = await bridge.send({ deviceId: device, command, requestId: id });
  assert.strictEqual(reply.requestId, id);
  assert.strictEqual(requests.length, 3);
  assert.strictEqual(bridge.sleeps.length, 2);
  assert.deepStrictEqual(requests[0].md.get("authorization"), ["Bearer t0k"]);
  assert.ok(requests[1].opts.deadline.getTime() === requests[0].opts.deadline.getTime(), "one deadline for all attempts");
});

test("without a request id the first error is final", async () => {
  const { bridge, requests } = scripted(Status.UNAVAILABLE);
  await assert.rejects(bridge.send({ deviceId: device, command }), (e) => e instanceof BridgeError && e.code === Status.UNAVAILABLE);
  assert.strictEqual(requests.length, 1);
});

test("ABORTED is never retried, and the error keeps the bridge's message", async () => {
  const { bridge, requests } = scripted(Status.ABORTED);
  await assert.rejects(bridge.send({ deviceId: device, command, requestId: newRequestId() }), {
    name: "BridgeError",
    message: "ABORTED: bridge says no",
  });
  assert.strictEqual(requests.length, 1);
});

test("gives up after maxAttempts", async () => {
  const { bridge, requests } = scripted(Status.UNAVAILABLE, Status.UNAVAILABLE, Status.UNAVAILABLE, Status.UNAVAILABLE);
  bridge.retry.maxAttempts = 3;
  await assert.rejects(bridge.send({ deviceId: device, command, requestId: "r" }));
  assert.strictEqual(requests.length, 3);
});

test("send's input becomes the request: wait names, durations, defaults", () => {
  const req = sendRequest({ deviceId: device, command, wait: "result", connectTimeoutMs: 1500 });
  assert.strictEqual(req.wait, WaitMode.WAIT_MODE_RESULT);
  assert.deepStrictEqual(req.connectTimeout, { seconds: 1, nanos: 500000000 });
  assert.strictEqual(req.requestId, "");
  assert.strictEqual(sendRequest({ deviceId: device, command }).wait, WaitMode.WAIT_MODE_ACK);
  assert.throws(() => sendRequest({ deviceId: device, command, wait: "done" }), /wait "done"/);
  assert.throws(() => sendRequest({ deviceId: device }), /command: expected a Command/);
});

test("queueTtlMs becomes queue_ttl; getRequest and cancelRequest call with the id and the token", async () => {
  assert.deepStrictEqual(sendRequest({ deviceId: device, command, queueTtlMs: 90_000 }).queueTtl, { seconds: 90, nanos: 0 });
  assert.strictEqual(sendRequest({ deviceId: device, command }).queueTtl, undefined);
  const calls = [];
  const record = (requestId, status) => ({ request: { requestId, status } });
  const client = {
    getRequest(req, md, opts, cb) {
      calls.push(["get", req, md.get("authorization")]);
      cb(null, record(req.requestId, 5));
    },
    cancelRequest(req, md, opts, cb) {
      calls.push(["cancel", req, md.get("authorization")]);
      if (req.requestId !== "unknown") cb(null, record(req.requestId, 7));
      else cb(Object.assign(new Error("no"), { code: Status.NOT_FOUND, details: "request unknown is not known" }));
    },
    close() {},
  };
  const bridge = new Bridge("unused:1", { token: "t0k" }, client);
  assert.deepStrictEqual(await bridge.getRequest("r1"), { requestId: "r1", status: 5 });
  assert.deepStrictEqual(await bridge.cancelRequest("r2"), { requestId: "r2", status: 7 });
  await assert.rejects(bridge.cancelRequest("unknown"), (e) => e instanceof BridgeError && e.code === Status.NOT_FOUND);
  assert.deepStrictEqual(calls.slice(0, 2), [
    ["get", { requestId: "r1" }, ["Bearer t0k"]],
    ["cancel", { requestId: "r2" }, ["Bearer t0k"]],
  ]);
});

test("command builders set their kind, action and plain-object Structs", () => {
  assert.strictEqual(commands.deviceCommand("reboot").deviceCommand.action, 2);
  assert.strictEqual(commands.upgradeDevice({ version: "2.0" }).upgradeDevice.version, "2.0");
  const stop = commands.schedulerAction("stop", { instance: "i", application: { name: "wikijs" } });
  assert.strictEqual(stop.schedulerAction.application.name, "wikijs");
  assert.deepStrictEqual(commands.appInstanceCommand("configure", { arguments: { a: { b: 1 } } }).appInstanceCommand.arguments, { a: { b: 1 } });
  assert.deepStrictEqual(command.raw.payload, { x: { y: [1, "two"] } });
  assert.throws(() => commands.schedulerAction("pause"), /SchedulerAction action "pause": expected one of start, stop/);
});

test("newRequestId is a random version 4 UUID", () => {
  assert.match(newRequestId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notStrictEqual(newRequestId(), newRequestId());
});

function fakeStream(events, error) {
  const stream = (async function* () {
    for (const event of events) yield { event };
    if (error) throw error;
  })();
  stream.cancel = () => void (stream.cancelled = true);
  return stream;
}

function streaming(...streams) {
  const requests = [];
  const client = {
    subscribeEvents(req) {
      requests.push(req);
      return streams.shift();
    },
    close() {},
  };
  const bridge = new Bridge("unused:1", {}, client);
  bridge.sleep = async () => {};
  return { bridge, requests };
}

const ev = (epoch, sequence) => ({ epoch, sequence, type: "device-state" });
const grpcError = (code, details) => Object.assign(new Error(details), { code, details });

test("a broken subscription resumes after the last event, with the same filters", async () => {
  const first = fakeStream([ev("e1", 1), ev("e1", 2)], grpcError(Status.UNAVAILABLE, "gone"));
  const { bridge, requests } = streaming(first, fakeStream([ev("e2", 1)]), fakeStream([ev("e2", 2)]));
  const subscription = bridge.subscribe({ deviceIds: ["d"] });
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await subscription.next()).sequence);
  assert.deepStrictEqual(got, [1, 2, 1, 2]);
  assert.strictEqual(requests[0].resumeAfter, undefined);
  assert.deepStrictEqual(requests[1].resumeAfter, { epoch: "e1", sequence: 2 });
  assert.deepStrictEqual(requests[1].deviceIds, ["d"]);
  assert.deepStrictEqual(requests[2].resumeAfter, { epoch: "e2", sequence: 1 }, "a stream the bridge ended resumes too");
  assert.strictEqual(subscription.reconnects, 2);
  assert.deepStrictEqual(subscription.position, { epoch: "e2", sequence: 2 });
  assert.ok(first.cancelled, "the broken call is released");
  subscription.cancel();
});

test("a subscription throws errors a new stream cannot fix", async () => {
  const { bridge, requests } = streaming(fakeStream([], grpcError(Status.UNAUTHENTICATED, "unknown token")));
  await assert.rejects(bridge.subscribe().next(), { name: "BridgeError", message: "UNAUTHENTICATED: unknown token" });
  assert.strictEqual(requests.length, 1);
});

test("a device watch: snapshot() stops at the marker, then the changes, then the stream's error", async () => {
  const replies = [
    { device: { deviceId: "a" } },
    { device: { deviceId: "b" } },
    { snapshotComplete: true },
    { device: { deviceId: "a" }, event: ev("e1", 3) },
  ];
  const stream = (async function* () {
    yield* replies;
    throw grpcError(Status.RESOURCE_EXHAUSTED, "max-subscribers");
  })();
  stream.cancel = () => void (stream.cancelled = true);
  const requests = [];
  const client = { watchDevices: (req) => (requests.push(req), stream), close() {} };
  const watch = new Bridge("unused:1", {}, client).watchDevices({ accountIds: ["acc"] });
  assert.deepStrictEqual((await watch.snapshot()).map((d) => d.deviceId), ["a", "b"]);
  assert.deepStrictEqual(requests[0], { accountIds: ["acc"], deviceIds: [], alive: false });
  assert.strictEqual((await watch.next()).event.sequence, 3);
  await assert.rejects(watch.next(), (e) => e.code === Status.RESOURCE_EXHAUSTED && e.details === "max-subscribers");
  assert.ok(stream.cancelled, "the call is released");
});

const SLOW = 1; // GapReason.GAP_REASON_SLOW_SUBSCRIBER
const HISTORY_EXPIRED = 2;
const gap = (epoch, sequence, reason = SLOW) => ({ epoch, sequence, type: "gap", gap: { missed: 5, reason } });
const kinds = (events) => events.map((e) => `${e.type}/${e.sequence}`);

test("a slow-subscriber gap after an event is recovered at once from after that event", async () => {
  const first = fakeStream([ev("e1", 1), ev("e1", 2), gap("e1", 9)], grpcError(Status.UNAVAILABLE, "gone"));
  // The new stream overflows again before any event: that gap is delivered.
  const second = fakeStream([gap("e1", 12), ev("e1", 13), gap("e1", 20, HISTORY_EXPIRED)]);
  const { bridge, requests } = streaming(first, second);
  let sleeps = 0;
  bridge.sleep = async () => void sleeps++;
  const subscription = bridge.subscribe({ deviceIds: ["d"] });
  const got = [];
  for (let i = 0; i < 5; i++) got.push(await subscription.next());
  assert.deepStrictEqual(kinds(got), ["device-state/1", "device-state/2", "gap/12", "device-state/13", "gap/20"]);
  assert.deepStrictEqual(requests[1].resumeAfter, { epoch: "e1", sequence: 2 }, "after the last event, not the gap");
  assert.deepStrictEqual(requests[1].deviceIds, ["d"]);
  assert.ok(first.cancelled, "the overflowed call is released");
  assert.deepStrictEqual([subscription.gapRecoveries, subscription.reconnects, sleeps], [1, 0, 0]);
  assert.deepStrictEqual(subscription.position, { epoch: "e1", sequence: 20 });
  subscription.cancel();
});

test("a slow-subscriber gap is delivered before any event, with recoverGaps: false, or resume: false", async () => {
  for (const [events, opts] of [
    [[gap("e1", 9), ev("e1", 10)], {}],
    [[ev("e1", 1), gap("e1", 9)], { recoverGaps: false }],
    [[ev("e1", 1), gap("e1", 9)], { resume: false }],
  ]) {
    const { bridge, requests } = streaming(fakeStream(events));
    const subscription = bridge.subscribe({}, opts);
    const got = [await subscription.next(), await subscription.next()];
    assert.deepStrictEqual(kinds(got), kinds(events), JSON.stringify(opts));
    assert.deepStrictEqual([requests.length, subscription.gapRecoveries], [1, 0]);
    subscription.cancel();
  }
});

test("resume: false throws instead of resuming", async () => {
  const { bridge } = streaming(fakeStream([ev("e1", 1)], grpcError(Status.UNAVAILABLE, "gone")));
  const subscription = bridge.subscribe({}, { resume: false });
  assert.strictEqual((await subscription.next()).sequence, 1);
  await assert.rejects(subscription.next(), (e) => e.code === Status.UNAVAILABLE);
});

test("startJob's input becomes the request: a list or a selector, waves, abort rule; refusals", () => {
  const req = startJobRequest({
    command,
    selector: { accountId: "acc", presence: 1, version: "1.0.0" },
    queueTtlMs: 60_000,
    maxRate: 5,
    waves: [{ percent: 10, pauseMs: 1500 }, { percent: 100 }],
    abort: { maxFailureRatio: 0.2 },
    wait: "result",
    dryRun: true,
  });
  assert.deepStrictEqual(req.target.selector, { accountId: "acc", presence: 1, version: "1.0.0", fields: [] });
  assert.strictEqual(req.target.devices, undefined);
  assert.deepStrictEqual(req.queueTtl, { seconds: 60, nanos: 0 });
  assert.deepStrictEqual(req.rollout.waves, [
    { percent: 10, pauseAfter: { seconds: 1, nanos: 500000000 } },
    { percent: 100, pauseAfter: undefined },
  ]);
  assert.deepStrictEqual(req.rollout.abort, { window: 0, maxFailureRatio: 0.2 });
  assert.strictEqual(req.wait, WaitMode.WAIT_MODE_RESULT);
  assert.strictEqual(req.dryRun, true);
  const list = startJobRequest({ command, deviceIds: [device], queueTtlMs: 1000, maxRate: 1 });
  assert.deepStrictEqual(list.target.devices, { deviceIds: [device] });
  assert.strictEqual(list.target.selector, undefined);
  assert.throws(() => startJobRequest({ command, queueTtlMs: 1000, maxRate: 1 }), /give deviceIds or selector/);
  assert.throws(() => startJobRequest({ command, deviceIds: [device], selector: {}, queueTtlMs: 1000, maxRate: 1 }),
    /exactly one/);
  assert.throws(() => startJobRequest({ command, deviceIds: [device], maxRate: 1 }), /queueTtlMs: required/);
});

function jobsClient(streams, pages = []) {
  const calls = [];
  return {
    calls,
    watchJob(req) {
      calls.push(["watch", req]);
      return streams.shift();
    },
    listJobs(req, md, opts, cb) {
      calls.push(["list", req]);
      cb(null, pages.shift());
    },
    getJob(req, md, opts, cb) {
      calls.push(["get", req, md.get("authorization")]);
      cb(Object.assign(new Error("no job"), { code: Status.NOT_FOUND, details: "no job" }));
    },
    close() {},
  };
}

function jobStream(replies, error) {
  const stream = (async function* () {
    yield* replies;
    if (error) throw error;
  })();
  stream.cancel = () => void (stream.cancelled = true);
  return stream;
}

const change = (sequence, state, deviceId) => ({
  sequence,
  job: { jobId: "j", state },
  outcome: deviceId ? { deviceId, status: 4 } : undefined,
});

test("a job watch resumes after the last sequence and ends when the bridge ends the stream", async () => {
  const first = jobStream([change(1, 1), change(2, 1, "d")], grpcError(Status.UNAVAILABLE, "gone"));
  const jobs = jobsClient([first, jobStream([change(3, 3)])]);
  const bridge = new Bridge("unused:1", { token: "t0k" }, { close() {} }, jobs);
  bridge.sleep = async () => {};
  const watch = bridge.watchJob("j");
  const got = [];
  for await (const c of watch) got.push(c.sequence);
  assert.deepStrictEqual(got, [1, 2, 3]);
  assert.deepStrictEqual(jobs.calls.map((c) => c[1].resumeAfter), [0, 2]);
  assert.strictEqual(watch.job.state, 3);
  assert.strictEqual(watch.reconnects, 1);
  assert.ok(first.cancelled, "the broken call is released");
});

test("a job watch throws what a new stream cannot fix; getJob and every page of listJobs", async () => {
  const pages = [{ jobs: [{ jobId: "a" }], nextPageToken: "p2" }, { jobs: [{ jobId: "b" }], nextPageToken: "" }];
  const jobs = jobsClient([jobStream([], grpcError(Status.NOT_FOUND, "no job"))], pages);
  const bridge = new Bridge("unused:1", { token: "t0k" }, { close() {} }, jobs);
  await assert.rejects(bridge.watchJob("j", { resumeAfter: 4 })[Symbol.asyncIterator]().next(),
    (e) => e instanceof BridgeError && e.code === Status.NOT_FOUND);
  assert.strictEqual(jobs.calls[0][1].resumeAfter, 4);
  await assert.rejects(bridge.getJob("j"), (e) => e.code === Status.NOT_FOUND);
  assert.deepStrictEqual(jobs.calls[1][2], ["Bearer t0k"]);
  const listed = await bridge.listJobs({ states: [3], pageSize: 1 });
  assert.deepStrictEqual(listed.map((j) => j.jobId), ["a", "b"]);
  assert.strictEqual(jobs.calls[3][1].pageToken, "p2");
  assert.deepStrictEqual(jobs.calls[3][1].states, [3]);
});
