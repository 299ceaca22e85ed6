// Fleet jobs as the console shows and starts them (docs/jobs.md), with no
// DOM: the start form's values → a StartJobRequest's JSON, a job's counters
// and spec → what the page writes, and an API error message → the form
// control it names. Plain data in and out, so node tests it on its own
// (tests/console/job_model.test.mjs).

// The counters, in the order the progress bar draws them; `selected` is the
// whole.
export const COUNTERS = ["succeeded", "failed", "expired", "skipped", "queued", "inFlight", "pending"];

export const COUNTER_LABELS = {
  succeeded: "succeeded", failed: "failed", expired: "expired", skipped: "skipped",
  queued: "queued", inFlight: "in flight", pending: "pending",
};

// A job's state without its enum prefix: "RUNNING".
export function stateName(state) {
  return String(state ?? "").replace(/^JOB_STATE_/, "") || "UNSPECIFIED";
}

// Whether CancelJob can still change the job.
export function isActive(job) {
  return !job.endedAt && ["JOB_STATE_RUNNING", "JOB_STATE_PAUSED"].includes(job.state);
}

// The counters as numbers (the gateway writes int64 as strings), with
// `selected`.
export function countersOf(job) {
  const raw = job?.counters ?? {};
  const out = { selected: Number(raw.selected ?? 0), joined: Number(raw.joined ?? 0) };
  for (const name of COUNTERS) out[name] = Number(raw[name] ?? 0);
  return out;
}

// "2 succeeded, 1 failed of 3 selected": the counters in words, the
// non-zero ones only.
export function describeCounters(counters) {
  const parts = COUNTERS.filter((name) => counters[name] > 0).map((name) => `${counters[name]} ${COUNTER_LABELS[name]}`);
  const joined = counters.joined > 0 ? ` (${counters.joined} joined while it ran)` : "";
  return `${parts.length ? parts.join(", ") : "nothing yet"} of ${counters.selected} selected${joined}`;
}

// A field the form checks before the API can (it cannot be said in JSON),
// named as the API names it.
export class FieldError extends Error {
  constructor(field, problem) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

// "10, 50, 100" → [{percent: 10, pauseAfter: "5s"}, ...]: cumulative
// percents, each but the last followed by `pauseSeconds`. Empty: no waves
// (one wave of 100 %). Whether they ascend to 100 is the API's to say.
export function wavesOf(text, pauseSeconds) {
  const items = text.split(",").map((s) => s.trim().replace(/%$/, "").trim()).filter(Boolean);
  return items.map((item, i) => {
    const percent = Number(item);
    if (!Number.isFinite(percent)) throw new FieldError(`rollout.waves[${i}].percent`, `"${item}" is not a number`);
    const wave = { percent };
    if (i < items.length - 1 && pauseSeconds > 0) wave.pauseAfter = `${pauseSeconds}s`;
    return wave;
  });
}

// Device ids pasted as a list: commas, spaces or new lines between them.
export function deviceIdsOf(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

// A twin field's expected value: JSON when it parses (3, true, "ok",
// {"a": 1}), else the text itself as a string.
export function valueOf(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function numberOf(text) {
  return String(text ?? "").trim() === "" ? 0 : Number(text);
}

// The StartJobRequest (proto3 JSON) for the form's values:
//   target: "selector" | "devices"; selectorAccount, onlineOnly,
//   selectorVersion, twinType, twinPath, twinEquals, includeJoining |
//   deviceIds;
//   maxRate, maxInFlight, waves, pause (s), abortWindow, maxFailureRatio,
//   queueTtl (s), wait, description, jobId; `command` built by command.js.
// Ranges are left to the API, which names the field it refuses.
export function startJobRequest(values, command, { dryRun = false } = {}) {
  const request = { command, wait: values.wait, queueTtl: `${numberOf(values.queueTtl)}s` };
  if (values.jobId && !dryRun) request.jobId = values.jobId;
  if (dryRun) request.dryRun = true;
  if (values.description?.trim()) request.description = values.description.trim();
  if (values.target === "devices") {
    request.target = { devices: { deviceIds: deviceIdsOf(values.deviceIds ?? "") } };
  } else {
    const selector = { presence: values.onlineOnly ? "PRESENCE_ONLINE" : "PRESENCE_ALL" };
    if (values.selectorAccount?.trim()) selector.accountId = values.selectorAccount.trim();
    if (values.selectorVersion?.trim()) selector.version = values.selectorVersion.trim();
    const [type, path, equals] = [values.twinType, values.twinPath, values.twinEquals].map((v) => (v ?? "").trim());
    if (type || path || equals) {
      const field = { eventType: type, path };
      if (equals) field.equals = valueOf(equals);
      selector.fields = [field];
    }
    request.target = { selector };
  }
  const rollout = { maxRate: numberOf(values.maxRate), maxInFlight: numberOf(values.maxInFlight) };
  const waves = wavesOf(values.waves ?? "", numberOf(values.pause));
  if (waves.length) rollout.waves = waves;
  if (String(values.maxFailureRatio ?? "").trim() !== "") {
    rollout.abort = { window: numberOf(values.abortWindow), maxFailureRatio: numberOf(values.maxFailureRatio) };
  }
  if (values.target !== "devices" && values.includeJoining) rollout.includeJoining = true;
  request.rollout = rollout;
  return request;
}

// Which form control an API message is about: the first field path it
// names (`rollout.waves[1].percent: ...`, `... in target.selector.account_id`),
// matched to the most specific path the form has a control for (CONTROLS
// lists those first); "" when none.
const CONTROLS = [
  ["job_id", "jobId"],
  ["target.devices", "deviceIds"],
  ["target.selector.account_id", "selectorAccount"],
  ["target.selector.version", "selectorVersion"],
  ["target.selector.fields.event_type", "twinType"],
  ["target.selector.fields.path", "twinPath"],
  ["target.selector.fields.equals", "twinEquals"],
  ["target.selector.fields", "twinPath"],
  ["command", "command"],
  ["wait", "wait"],
  ["queue_ttl", "queueTtl"],
  ["rollout.max_rate", "maxRate"],
  ["rollout.max_in_flight", "maxInFlight"],
  ["rollout.waves", "waves"],
  ["rollout.abort.window", "abortWindow"],
  ["rollout.abort.max_failure_ratio", "maxFailureRatio"],
  ["rollout.abort", "maxFailureRatio"],
  ["rollout.include_joining", "includeJoining"],
  ["description", "description"],
];

export function controlOf(message) {
  // A path is dotted or indexed, or a lone name right before a colon
  // ("wait: unknown mode"); a word of the prose ("each device's command is
  // ...") is none.
  const paths = String(message).matchAll(/[A-Za-z_]+(?:\[\d+\])?(?:\.[A-Za-z_]+(?:\[\d+\])?)*(:?)/g);
  for (const [found, colon] of paths) {
    if (!colon && !/[.[]/.test(found)) continue;
    const path = found.replace(/:$/, "").replace(/\[\d+\]/g, "");
    for (const [prefix, control] of CONTROLS) {
      if (path === prefix || path.startsWith(`${prefix}.`)) return control;
    }
  }
  return "";
}

// `value` without what proto3 JSON writes for unset fields ("", [], {},
// false), so a command reads as it was asked.
export function compact(value) {
  if (Array.isArray(value)) return value.map(compact);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    const c = compact(v);
    const empty = c === "" || c === false || (Array.isArray(c) && c.length === 0)
      || (c !== null && typeof c === "object" && !Array.isArray(c) && Object.keys(c).length === 0);
    if (!empty) out[key] = c;
  }
  return out;
}

function seconds(duration) {
  return duration ? String(duration) : "0s";
}

// A job's spec (its StartJobRequest as the API returns it) as [term,
// description] pairs for people.
export function describeSpec(spec = {}) {
  const rows = [];
  const target = spec.target ?? {};
  if (target.devices) {
    rows.push(["Devices", `${target.devices.deviceIds?.length ?? 0} listed`]);
  } else if (target.selector) {
    const s = target.selector;
    const parts = [s.accountId ? `account ${s.accountId}` : "every account"];
    parts.push({ PRESENCE_ONLINE: "online only", PRESENCE_OFFLINE: "offline only" }[s.presence] ?? "online or not");
    if (s.version) parts.push(`version ${s.version}`);
    for (const f of s.fields ?? []) parts.push(`${f.eventType} ${f.path} = ${JSON.stringify(f.equals)}`);
    rows.push(["Selector", parts.join(", ")]);
  }
  rows.push(["Command", JSON.stringify(compact(spec.command ?? {}))]);
  rows.push(["Wait for", String(spec.wait ?? "WAIT_MODE_ACK").replace(/^WAIT_MODE_/, "").replace("UNSPECIFIED", "ACK")]);
  rows.push(["Queue TTL", seconds(spec.queueTtl)]);
  const r = spec.rollout ?? {};
  const rollout = [`at most ${r.maxRate ?? 0} devices/s`, `${r.maxInFlight || 100} in flight`];
  if (r.waves?.length) {
    rollout.push(`waves ${r.waves.map((w) => `${w.percent}%${w.pauseAfter && w.pauseAfter !== "0s" ? ` (then ${w.pauseAfter})` : ""}`).join(", ")}`);
  }
  rollout.push(r.abort
    ? `abort when over ${r.abort.maxFailureRatio * 100}% of the last ${r.abort.window || 20} fail`
    : "no abort rule");
  if (r.includeJoining) rollout.push("devices that come to match while it runs join it");
  rows.push(["Rollout", rollout.join("; ")]);
  if (spec.description) rows.push(["Description", spec.description]);
  return rows;
}

// A version 4 UUID from getRandomValues (crypto.randomUUID needs a secure
// context; a console on plain http://host: is not one): the job id the form
// sends, so a Start clicked twice or retried starts one job.
export function newJobId(random = globalThis.crypto) {
  const b = random.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
