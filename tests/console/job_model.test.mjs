// The jobs panel's pure logic (server/console/job_model.js), no browser: the
// start form's values → the StartJobRequest JSON the gateway reads, waves
// and twin values parsed as the form means them, an API message → the form
// control it names, a job's counters and spec in words, and the job id.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const model = await import(
  pathToFileURL(path.join(import.meta.dirname, "..", "..", "server", "console", "job_model.js")).href);
const { startJobRequest, wavesOf, valueOf, deviceIdsOf, controlOf, countersOf, describeCounters, describeSpec,
  compact, newJobId, isActive, stateName, FieldError } = model;

const COMMAND = { schedulerAction: { action: "ACTION_START", instance: "0f8e4a7c-2a53-4b52-9d6e-5b8f1f6f2d11" } };
const ACCOUNT = "7b1a3c52-5e0d-4b7a-9a53-2f6e8c1d4a10";
const JOB_ID = "5b0c7c1e-8a0f-4d53-9a8e-0d6c2b1f3e4a";

// The form as it opens, with a selector over one account.
const FORM = {
  target: "selector", selectorAccount: ` ${ACCOUNT} `, onlineOnly: true, selectorVersion: "", twinType: "",
  twinPath: "", twinEquals: "", deviceIds: "", maxRate: "10", maxInFlight: "0", waves: "", pause: "0",
  abortWindow: "0", maxFailureRatio: "", queueTtl: "60", wait: "WAIT_MODE_ACK", description: "", jobId: JOB_ID,
};

test("a selector over an account, online only, at 10/s: the request as the gateway reads it", () => {
  assert.deepEqual(startJobRequest(FORM, COMMAND), {
    jobId: JOB_ID,
    command: COMMAND,
    wait: "WAIT_MODE_ACK",
    queueTtl: "60s",
    target: { selector: { presence: "PRESENCE_ONLINE", accountId: ACCOUNT } },
    rollout: { maxRate: 10, maxInFlight: 0 },
  });
});

test("a dry run sends dryRun and no job id (the real start's idempotency key stays unused)", () => {
  const request = startJobRequest(FORM, COMMAND, { dryRun: true });
  assert.equal(request.dryRun, true);
  assert.equal("jobId" in request, false);
});

test("every selector field, waves with a pause, an abort rule and a description", () => {
  const request = startJobRequest({
    ...FORM, onlineOnly: false, selectorVersion: "hive-os 2024.06.1", twinType: "device-state", twinPath: "state",
    twinEquals: "\"ok\"", waves: "10, 50%, 100", pause: "30", abortWindow: "40", maxFailureRatio: "0.25",
    maxInFlight: "8", queueTtl: "3600", wait: "WAIT_MODE_RESULT", description: "  roll out 2024.06  ",
  }, COMMAND);
  assert.deepEqual(request.target.selector, {
    presence: "PRESENCE_ALL", accountId: ACCOUNT, version: "hive-os 2024.06.1",
    fields: [{ eventType: "device-state", path: "state", equals: "ok" }],
  });
  assert.deepEqual(request.rollout, {
    maxRate: 10, maxInFlight: 8,
    waves: [{ percent: 10, pauseAfter: "30s" }, { percent: 50, pauseAfter: "30s" }, { percent: 100 }],
    abort: { window: 40, maxFailureRatio: 0.25 },
  });
  assert.equal(request.queueTtl, "3600s");
  assert.equal(request.wait, "WAIT_MODE_RESULT");
  assert.equal(request.description, "roll out 2024.06");
});

test("newcomers join a selector's job when asked; a device list takes none", () => {
  assert.equal(startJobRequest({ ...FORM, includeJoining: true }, COMMAND).rollout.includeJoining, true);
  assert.equal("includeJoining" in startJobRequest(FORM, COMMAND).rollout, false);
  const listed = startJobRequest({ ...FORM, includeJoining: true, target: "devices", deviceIds: ACCOUNT }, COMMAND);
  assert.equal("includeJoining" in listed.rollout, false);
  assert.equal(controlOf("rollout.include_joining: needs target.selector; a job over a device list takes no newcomers"),
    "includeJoining");
  const spec = { target: { selector: { accountId: ACCOUNT } }, rollout: { maxRate: 1, includeJoining: true } };
  assert.match(describeSpec(spec).find(([name]) => name === "Rollout")[1], /devices that come to match while it runs join it/);
});

test("a pasted device list: commas, spaces and new lines between ids; the selector is not sent", () => {
  const ids = ["d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b", "5f0e3a9b-7c1d-4e2f-8a6b-3c4d5e6f7a8b", "a3c1e2d4-0b9f-4e8a-9c7d-6b5a4f3e2d1c"];
  const request = startJobRequest({ ...FORM, target: "devices", deviceIds: `${ids[0]},${ids[1]}\n\n  ${ids[2]}\n` }, COMMAND);
  assert.deepEqual(request.target, { devices: { deviceIds: ids } });
  assert.deepEqual(deviceIdsOf(""), []);
});

test("what the API judges is passed on as typed: an empty rate is 0, a ratio without a window is window 0", () => {
  const request = startJobRequest({ ...FORM, maxRate: "", maxFailureRatio: "1.5", abortWindow: "", queueTtl: "" }, COMMAND);
  assert.equal(request.rollout.maxRate, 0);
  assert.deepEqual(request.rollout.abort, { window: 0, maxFailureRatio: 1.5 });
  assert.equal(request.queueTtl, "0s");
});

test("a twin field half filled in is sent as it is, so the API names what is missing", () => {
  const request = startJobRequest({ ...FORM, twinType: "device-state", twinPath: "state" }, COMMAND);
  assert.deepEqual(request.target.selector.fields, [{ eventType: "device-state", path: "state" }]);
});

test("waves: percents, an optional %, no pause after the last; a word is refused naming the wave as the API would", () => {
  assert.deepEqual(wavesOf("", 5), []);
  assert.deepEqual(wavesOf("100", 5), [{ percent: 100 }]);
  assert.deepEqual(wavesOf(" 1,10 , 100 ", 0), [{ percent: 1 }, { percent: 10 }, { percent: 100 }]);
  assert.throws(() => wavesOf("10, half, 100", 0), (e) => e instanceof FieldError
    && e.message === "rollout.waves[1].percent: \"half\" is not a number" && e.field === "rollout.waves[1].percent");
});

test("a twin value is JSON when it parses, else text", () => {
  assert.equal(valueOf("3"), 3);
  assert.equal(valueOf("true"), true);
  assert.equal(valueOf("\"3\""), "3");
  assert.deepEqual(valueOf("{\"a\": [1]}"), { a: [1] });
  assert.equal(valueOf("ok"), "ok");
  assert.equal(valueOf("disk full"), "disk full");
});

test("an API message names the form control: leading field paths, indices, and paths inside the text", () => {
  const cases = [
    ["rollout.max_rate: 0 devices per second; it must be above 0", "maxRate"],
    ["rollout.waves: the last wave's percent is 90; it must be 100", "waves"],
    ["rollout.waves[1].percent: 5 must be above the previous wave's (10) and at most 100", "waves"],
    ["rollout.abort.max_failure_ratio: 1.5; it must be between 0 and 1, exclusive", "maxFailureRatio"],
    ["rollout.abort.window: -1 < 0", "abortWindow"],
    ["queue_ttl: 0s; it must be at least 1s and at most --max-queue-ttl (24h)", "queueTtl"],
    ["target.devices.device_ids[2]: \"x\" is not a UUID", "deviceIds"],
    ["target.selector.account_id: not a UUID", "selectorAccount"],
    ["target.selector.fields[0].equals: not set", "twinEquals"],
    ["target.selector.fields[0].path: \"a..b\" is not a dot-separated path of member names", "twinPath"],
    ["caller \"ops\" must name one of its accounts in target.selector.account_id", "selectorAccount"],
    ["command.raw.command: must not be empty", "command"],
    ["description: 300 bytes, over 256", "description"],
    ["target: no device matches; the job would do nothing", ""],
    ["wait: unknown mode 7", "wait"],
    ["command: no command kind is set", "command"],
    ["bridge unreachable: Failed to fetch", ""],
    ["fleet jobs need --state-dir: each device's command is a queued request, stored durably", ""],
    ["the selector matches more than --max-job-devices (100000) devices; narrow it or split the job", ""],
  ];
  for (const [message, control] of cases) assert.equal(controlOf(message), control, message);
});

test("counters: the gateway's int64 strings as numbers, and in words", () => {
  const job = { counters: { selected: "5", pending: "1", queued: "0", inFlight: "1", succeeded: "2", failed: "1", expired: "0", skipped: "0" } };
  const counters = countersOf(job);
  assert.deepEqual(counters, { selected: 5, joined: 0, succeeded: 2, failed: 1, expired: 0, skipped: 0, queued: 0, inFlight: 1, pending: 1 });
  assert.equal(describeCounters(counters), "2 succeeded, 1 failed, 1 in flight, 1 pending of 5 selected");
  assert.equal(describeCounters(countersOf({})), "nothing yet of 0 selected");
  assert.equal(describeCounters(countersOf({ counters: { selected: "7", joined: "2", pending: "7" } })),
    "7 pending of 7 selected (2 joined while it ran)");
});

test("states: the name without its prefix; cancellable only while running or paused and not ended", () => {
  assert.equal(stateName("JOB_STATE_COMPLETED"), "COMPLETED");
  assert.equal(stateName(undefined), "UNSPECIFIED");
  assert.equal(isActive({ state: "JOB_STATE_RUNNING" }), true);
  assert.equal(isActive({ state: "JOB_STATE_PAUSED" }), true);
  assert.equal(isActive({ state: "JOB_STATE_CANCELLED" }), false);
  assert.equal(isActive({ state: "JOB_STATE_RUNNING", endedAt: "2026-12-06T21:58:28Z" }), false);
});

test("a spec as the API returns it (every field written) reads as asked", () => {
  const spec = {
    target: { selector: { accountId: ACCOUNT, presence: "PRESENCE_ONLINE", version: "", fields: [{ eventType: "device-state", path: "state", equals: "ok" }] } },
    command: { schedulerAction: { action: "ACTION_START", links: {}, exactNumbers: {}, instance: "i-1" } },
    wait: "WAIT_MODE_UNSPECIFIED", queueTtl: "60s",
    rollout: { maxRate: 0.5, maxInFlight: 0, waves: [{ percent: 50, pauseAfter: "10s" }, { percent: 100, pauseAfter: "0s" }], includeJoining: false, abort: { window: 0, maxFailureRatio: 0.1 } },
    description: "",
  };
  assert.deepEqual(describeSpec(spec), [
    ["Selector", `account ${ACCOUNT}, online only, device-state state = "ok"`],
    ["Command", "{\"schedulerAction\":{\"action\":\"ACTION_START\",\"instance\":\"i-1\"}}"],
    ["Wait for", "ACK"],
    ["Queue TTL", "60s"],
    ["Rollout", "at most 0.5 devices/s; 100 in flight; waves 50% (then 10s), 100%; abort when over 10% of the last 20 fail"],
  ]);
  assert.deepEqual(describeSpec({ target: { devices: { deviceIds: ["a", "b"] } }, description: "x" }).map((r) => r[0]),
    ["Devices", "Command", "Wait for", "Queue TTL", "Rollout", "Description"]);
});

test("compact drops what proto3 JSON writes for unset fields, keeps 0 and nested values", () => {
  assert.deepEqual(compact({ a: "", b: [], c: {}, d: false, e: 0, f: { g: { h: "" }, i: [1] } }), { e: 0, f: { i: [1] } });
});

test("job ids are version 4 UUIDs, fresh each time", () => {
  const a = newJobId();
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(newJobId(), a);
  const zeros = newJobId({ getRandomValues: (b) => b });
  assert.equal(zeros, "00000000-0000-4000-8000-000000000000");
});
