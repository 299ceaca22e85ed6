// The fleet-jobs panel (docs/jobs.md): the job list (ListJobs, paged), one
// job's page (GetJob, then WatchJob's stream for live counters and each
// device's outcome, resumed after the last change when the stream breaks;
// CancelJob), and the start form (StartJob, with a dry run that lists the
// devices first). The form → request mapping and the words it shows are
// job_model.js's; the command fields are command.js's, shared with the
// send form.
import { ApiError, call, codeName, followApiStream, streamEnd } from "./api.js";
import { commandOf, mountCommandFields } from "./command.js";
import { $, describeError, element, mountPager, when } from "./dom.js";
import {
  COUNTERS, COUNTER_LABELS, FieldError, controlOf, countersOf, describeCounters, describeSpec, isActive, newJobId,
  startJobRequest, stateName,
} from "./job_model.js";

const PAGE_SIZE = 25;
// While a job on the list's page runs, the list is read again this often
// (one call for the page, not a stream per job).
const LIST_REFRESH_MS = 5000;
// The job page lists at most this many devices' outcomes (a job may have
// 100,000); the counters still count them all.
const MAX_OUTCOME_ROWS = 2000;
// A dry run lists at most this many of the devices it selected.
const MAX_DRY_RUN_ROWS = 1000;

// ---- progress: a bar of the counters over `selected`, and the same in words
function progress(job) {
  const counters = countersOf(job);
  const wrap = element("div", undefined, { class: "progress" });
  const bar = element("div", undefined, { class: "bar", role: "img", "aria-label": describeCounters(counters) });
  for (const name of COUNTERS) {
    if (counters[name] === 0) continue;
    const part = element("span", undefined, { class: `part ${name}`, title: `${counters[name]} ${COUNTER_LABELS[name]}` });
    // CSSOM, not a style attribute: the CSP forbids inline styles.
    part.style.flexGrow = String(counters[name]);
    bar.append(part);
  }
  const done = counters.succeeded + counters.failed + counters.expired + counters.skipped;
  wrap.append(bar, element("small", `${done}/${counters.selected} done: ${describeCounters(counters)}`));
  return wrap;
}

// ---- the list
const list = { tokens: [""], page: 0, next: "", timer: 0 };

function jobRow(job) {
  const row = element("tr");
  row.dataset.jobId = job.jobId;
  row.dataset.state = stateName(job.state);
  const name = element("th", undefined, { scope: "row" });
  const open = element("button", job.jobId, { type: "button", class: "link" });
  open.addEventListener("click", () => showJob(job.jobId));
  name.append(open);
  const progressCell = element("td");
  progressCell.append(progress(job));
  row.append(name,
    element("td", stateName(job.state), { class: `state ${stateName(job.state).toLowerCase()}` }),
    element("td", job.spec?.description || "—"),
    element("td", job.accountId || "—"),
    progressCell,
    element("td", when(job.createdAt)),
    element("td", when(job.endedAt)));
  return row;
}

export async function loadJobs() {
  clearTimeout(list.timer);
  const form = $("#jobs-filter");
  const error = $("#jobs-error");
  const body = $("#jobs-table tbody");
  try {
    const answer = await call("GET", "jobs", {
      params: {
        page_size: Number(form.size.value) || PAGE_SIZE, page_token: list.tokens[list.page], states: form.state.value,
      },
    });
    error.hidden = true;
    $("#jobs-list").hidden = false;
    body.replaceChildren(...answer.jobs.map(jobRow));
    if (answer.jobs.length === 0) {
      body.replaceChildren(element("tr"));
      body.firstChild.append(element("td", "No jobs yet.", { colspan: "7" }));
    }
    list.next = answer.nextPageToken;
    $("#jobs-caption").textContent = `Jobs, newest first: ${answer.jobs.length} on this page`;
    if (answer.jobs.some((job) => !job.endedAt)) list.timer = setTimeout(loadJobs, LIST_REFRESH_MS);
  } catch (e) {
    // Without --state-dir (or in cluster mode) this is the API's
    // FAILED_PRECONDITION saying why: shown instead of an empty list.
    error.textContent = describeError(e);
    error.hidden = false;
    $("#jobs-list").hidden = true;
    body.replaceChildren();
    list.next = "";
  }
  $("#jobs-page-label").textContent = `Page ${list.page + 1}`;
  $("#jobs-prev").disabled = list.page === 0;
  $("#jobs-next").disabled = !list.next;
}

// ---- one job's page
const current = { jobId: "", job: null, stream: null, outcomes: new Map() };

function showJobState(job) {
  current.job = job;
  const state = stateName(job.state);
  $("#job-state").textContent = state;
  $("#job-state").dataset.state = state.toLowerCase();
  $("#job-wave").textContent = `wave ${Number(job.wave ?? 0) + 1}`;
  $("#job-times").textContent = `started ${when(job.createdAt)}${job.endedAt ? `, ended ${when(job.endedAt)}` : ""}`;
  $("#job-reason").textContent = job.endReason ?? "";
  $("#job-reason").hidden = !job.endReason;
  $("#job-progress").replaceChildren(progress(job));
  const counters = countersOf(job);
  $("#job-counters").replaceChildren(...["selected", ...COUNTERS].flatMap((name) => {
    const item = element("div", undefined, { "data-counter": name });
    item.append(element("dt", name === "selected" ? "selected" : COUNTER_LABELS[name]), element("dd", String(counters[name])));
    return [item];
  }));
  $("#job-cancel").hidden = !isActive(job);
  // A device skipped while pending was never sent a request: no outcome event.
  $("#job-skipped-note").hidden = counters.skipped === 0;
}

function showSpec(job) {
  $("#job-spec").replaceChildren(...describeSpec(job.spec).flatMap(([term, text]) => [element("dt", term), element("dd", text)]));
  if (job.accountId) $("#job-spec").append(element("dt", "Account"), element("dd", job.accountId));
}

function showOutcome(outcome) {
  const status = String(outcome.status ?? "").replace(/^REQUEST_STATUS_/, "");
  let row = current.outcomes.get(outcome.deviceId);
  if (!row) {
    if (current.outcomes.size >= MAX_OUTCOME_ROWS) {
      $("#job-outcomes-note").textContent = `(the first ${MAX_OUTCOME_ROWS} devices; the counters count all)`;
      return;
    }
    row = element("tr");
    row.dataset.deviceId = outcome.deviceId;
    current.outcomes.set(outcome.deviceId, row);
    $("#job-outcomes tbody").append(row);
  }
  row.dataset.status = status;
  row.replaceChildren(element("th", outcome.deviceId, { scope: "row" }),
    element("td", status, { class: `status ${status.toLowerCase()}` }),
    element("td", String(Number(outcome.wave ?? 0) + 1)),
    element("td", outcome.error || "—"),
    element("td", when(outcome.at)),
    element("td", outcome.requestId ?? ""));
}

function onChange(event) {
  const change = JSON.parse(event.data);
  if (change.job) showJobState(change.job);
  if (change.outcome) showOutcome(change.outcome);
}

// WatchJob from the start (the job, every outcome so far, then live); when
// the stream breaks before the job ended, again after its last change
// (Last-Event-ID), until the change that ends the job ends it.
function watch(jobId) {
  const controller = new AbortController();
  const state = $("#job-stream-state");
  state.textContent = "connecting…";
  followApiStream({
    path: `jobs/${encodeURIComponent(jobId)}:watch`,
    onEvent: onChange,
    onState: (s) => { state.textContent = s; },
    // Over when the job ended (or the bridge ended the stream with an error).
    over: () => Boolean(current.job?.endedAt),
    signal: controller.signal,
  }).then((error) => {
    if (controller.signal.aborted) return;
    state.textContent = streamEnd(error);
    loadJobs();
  }, (e) => {
    state.textContent = `refused: ${describeError(e)}`;
  });
  return controller;
}

export async function showJob(jobId) {
  current.stream?.abort();
  current.jobId = jobId;
  current.job = null;
  current.outcomes = new Map();
  $("#job-hint").hidden = true;
  $("#job-body").hidden = false;
  $("#job-title").textContent = `Job ${jobId}`;
  $("#job-outcomes tbody").replaceChildren();
  $("#job-outcomes-note").textContent = "";
  $("#job-error").hidden = true;
  $("#job-spec").replaceChildren();
  try {
    const answer = await call("GET", `jobs/${encodeURIComponent(jobId)}`);
    if (current.jobId !== jobId) return;
    showSpec(answer.job);
    if (!current.job) showJobState(answer.job);
  } catch (e) {
    $("#job-error").textContent = describeError(e);
    $("#job-error").hidden = false;
    return;
  }
  current.stream = watch(jobId);
  $("#job").scrollIntoView({ block: "nearest" });
}

// The job page again (a new token: its stream opened with the old one).
export function reloadJob() {
  if (current.jobId) showJob(current.jobId);
}

async function cancelJob() {
  const jobId = current.jobId;
  if (!window.confirm(`Cancel job ${jobId}? Devices not yet sent its command will not be.`)) return;
  $("#job-cancel").disabled = true;
  try {
    const answer = await call("POST", `jobs/${encodeURIComponent(jobId)}/cancel`, { body: {} });
    if (current.jobId === jobId && !current.job?.endedAt) showJobState(answer.job);
    $("#job-error").hidden = true;
  } catch (e) {
    $("#job-error").textContent = describeError(e);
    $("#job-error").hidden = false;
  }
  $("#job-cancel").disabled = false;
  loadJobs();
}

// ---- the start form
let jobCommand = null;

function formValues(form) {
  const values = {};
  for (const control of form.elements) {
    if (!control.name || control.closest("[data-command]")) continue;
    if (control.type === "radio") {
      if (control.checked) values[control.name] = control.value;
    } else {
      values[control.name] = control.type === "checkbox" ? control.checked : control.value;
    }
  }
  return values;
}

function showTarget() {
  const kind = $("#job-form").elements.target.value;
  for (const part of $("#job-form").querySelectorAll("[data-target]")) part.hidden = part.dataset.target !== kind;
}

function markInvalid(control) {
  for (const node of $("#job-form").querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  if (!control) return;
  const node = control === "command" ? jobCommand : $("#job-form").elements[control];
  node?.setAttribute?.("aria-invalid", "true");
}

function showStart(status, detail, state) {
  $("#job-start-status").textContent = status;
  $("#job-start-detail").textContent = detail;
  $("#job-start-outcome").dataset.state = state;
}

async function submitJob(dryRun) {
  const form = $("#job-form");
  let body;
  $("#job-dry-run-devices").replaceChildren();
  try {
    body = startJobRequest(formValues(form), commandOf(jobCommand), { dryRun });
  } catch (e) {
    markInvalid(e instanceof FieldError ? controlOf(e.message) : "command");
    return showStart("not sent", e.message, "bad");
  }
  markInvalid("");
  showStart(dryRun ? "selecting…" : "starting…", "", "busy");
  try {
    const answer = await call("POST", "jobs", { body });
    if (dryRun) {
      const ids = answer.deviceIds ?? [];
      showStart(`dry run: ${ids.length} device${ids.length === 1 ? "" : "s"} selected`,
        "Nothing was sent. The job would send its command to these, in this order:", "ok");
      $("#job-dry-run-devices").replaceChildren(...ids.slice(0, MAX_DRY_RUN_ROWS).map((id) => element("li", id)));
      if (ids.length > MAX_DRY_RUN_ROWS) {
        $("#job-dry-run-devices").append(element("li", `… and ${ids.length - MAX_DRY_RUN_ROWS} more`, { class: "more" }));
      }
    } else {
      showStart(`started ${stateName(answer.job.state)}`, `job ${answer.job.jobId}`, "ok");
      form.elements.jobId.value = newJobId();
      showJob(answer.job.jobId);
      list.tokens = [""];
      list.page = 0;
      loadJobs();
    }
  } catch (e) {
    markInvalid(controlOf(e.message));
    if (!(e instanceof ApiError)) return showStart("failed", String(e), "bad");
    return showStart(`${codeName(e.code)} (${e.code})`, `HTTP ${e.httpStatus}: ${e.message}`, "bad");
  }
  return undefined;
}

export function startJobs() {
  const form = $("#job-form");
  jobCommand = mountCommandFields(form);
  jobCommand.dataset.command = "";
  form.elements.jobId.value = newJobId();
  for (const radio of form.elements.target) radio.addEventListener("change", showTarget);
  showTarget();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitJob(false);
  });
  $("#job-dry-run").addEventListener("click", () => submitJob(true));
  $("#job-cancel").addEventListener("click", cancelJob);
  mountPager(list, loadJobs, { filter: "#jobs-filter", next: "#jobs-next", previous: "#jobs-prev" });
  loadJobs();
}
