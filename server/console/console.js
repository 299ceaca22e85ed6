// The operators' console: the fleet, one device's twin and events, a command
// form (command.js), a live event tail, fleet jobs (jobs.js) and the bridge's
// health, all through the gateway's /api/v1 (api.js). Everything from the
// bridge is written with textContent, never as HTML (dom.js), so a device id
// or a twin field cannot inject markup.
import { ApiError, call, codeName, followApiStream, setToken, streamEnd, token } from "./api.js";
import { commandOf, mountCommandFields } from "./command.js";
import { $, element, mountPager, when } from "./dom.js";
import { loadJobs, reloadJob, startJobs } from "./jobs.js";

const PAGE_SIZE = 25;
const MAX_EVENTS = 200;
const HEALTH_EVERY_MS = 10000;

// ---- health
async function checkHealth() {
  const out = $("#health");
  try {
    const answer = await call("GET", "health", { okStatuses: [503] });
    out.textContent = answer.status;
    out.dataset.state = answer.status === "SERVING" ? "ok" : "bad";
  } catch (e) {
    out.textContent = e instanceof ApiError ? e.describe() : String(e);
    out.dataset.state = "bad";
  }
}

// ---- fleet
const fleet = { tokens: [""], page: 0, next: "" };

function fleetQuery() {
  const form = $("#fleet-filter");
  return {
    account_id: form.account.value.trim(),
    presence: form.online.checked ? "PRESENCE_ONLINE" : "PRESENCE_ALL",
    page_size: Number(form.size.value) || PAGE_SIZE,
    page_token: fleet.tokens[fleet.page],
  };
}

function deviceRow(device) {
  const row = element("tr");
  row.dataset.deviceId = device.deviceId;
  const name = element("th", undefined, { scope: "row" });
  const open = element("button", device.deviceId, { type: "button", class: "link" });
  open.addEventListener("click", () => showDevice(device.deviceId));
  name.append(open);
  row.append(name,
    element("td", device.online ? "online" : "offline", { class: device.online ? "online" : "offline" }),
    element("td", device.accountId),
    element("td", device.version || "—"),
    element("td", device.address || "—"),
    element("td", when(device.lastAliveAt)));
  return row;
}

async function loadFleet() {
  const error = $("#fleet-error");
  const body = $("#fleet-table tbody");
  try {
    const answer = await call("GET", "devices", { params: fleetQuery() });
    error.hidden = true;
    const contains = $("#fleet-filter").device.value.trim().toLowerCase();
    const devices = answer.devices.filter((d) => d.deviceId.toLowerCase().includes(contains));
    body.replaceChildren(...devices.map(deviceRow));
    if (devices.length === 0) {
      const empty = element("td", "No devices match.", { colspan: "6" });
      body.replaceChildren(element("tr"));
      body.firstChild.append(empty);
    }
    fleet.next = answer.nextPageToken;
    $("#fleet-caption").textContent =
      `Devices: ${devices.length} shown of ${answer.devices.length} on this page`;
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.describe() : String(e);
    error.hidden = false;
    body.replaceChildren();
    fleet.next = "";
  }
  $("#page-label").textContent = `Page ${fleet.page + 1}`;
  $("#page-prev").disabled = fleet.page === 0;
  $("#page-next").disabled = !fleet.next;
}

// ---- event streams (device page and tail)
function eventItem(event) {
  let parsed = {};
  try {
    parsed = JSON.parse(event.data);
  } catch {
    // shown raw below
  }
  const item = element("li");
  item.dataset.type = event.event;
  item.dataset.id = event.id;
  item.dataset.deviceId = parsed.deviceId ?? "";
  item.append(element("time", when(parsed.receivedAt)), " ",
    element("strong", event.event), " ",
    element("code", parsed.deviceId ?? ""), " ",
    element("span", event.data.length > 300 ? `${event.data.slice(0, 300)}…` : event.data, { class: "data" }));
  return item;
}

// Streams GET /api/v1/events with `params` into `list` (newest first) until
// the returned AbortController aborts; `state` shows where it stands. When
// the connection drops (or the bridge ends the stream UNAVAILABLE, shutting
// down), it is opened again after the last event shown (Last-Event-ID), so
// nothing is missed and nothing is shown twice; any other error ends it.
function follow(params, list, state) {
  const controller = new AbortController();
  state.textContent = "connecting…";
  followApiStream({
    path: "events",
    params,
    onEvent: (event) => {
      list.prepend(eventItem(event));
      while (list.children.length > MAX_EVENTS) list.lastChild.remove();
    },
    onState: (s) => { state.textContent = s; },
    signal: controller.signal,
  }).then((error) => {
    if (!controller.signal.aborted) state.textContent = streamEnd(error);
  }, (e) => {
    state.textContent = e instanceof ApiError ? `refused: ${e.describe()}` : `failed: ${e.message}`;
  });
  return controller;
}

// ---- device page
let deviceStream = null;

async function showDevice(deviceId) {
  $("#device-hint").hidden = true;
  $("#device-body").hidden = false;
  $("#device-title").textContent = `Device ${deviceId}`;
  $("#command-form").device.value = deviceId;
  deviceStream?.abort();
  $("#device-events").replaceChildren();
  deviceStream = follow({ device_ids: deviceId }, $("#device-events"), $("#device-stream-state"));
  try {
    const answer = await call("GET", `devices/${encodeURIComponent(deviceId)}`);
    $("#device-twin").textContent = JSON.stringify(answer.device, null, 2);
  } catch (e) {
    $("#device-twin").textContent = e instanceof ApiError ? e.describe() : String(e);
  }
  $("#device").scrollIntoView({ block: "nearest" });
}

// ---- command form
let commandFields = null;

function showOutcome(status, detail, state) {
  $("#outcome-status").textContent = status;
  $("#outcome-detail").textContent = detail;
  $("#outcome").dataset.state = state;
}

async function sendCommand(event) {
  event.preventDefault();
  const form = event.target;
  let body;
  try {
    body = { command: commandOf(commandFields), wait: form.wait.value };
  } catch (e) {
    return showOutcome("not sent", e.message, "bad");
  }
  const deviceId = form.device.value.trim();
  showOutcome("sending…", "", "busy");
  try {
    const answer = await call("POST", `devices/${encodeURIComponent(deviceId)}/requests`, { body });
    const status = answer.status.replace(/^REQUEST_STATUS_/, "");
    const parts = [`request ${answer.requestId}`];
    if (answer.error) parts.push(`error: ${answer.error}`);
    if (answer.result) parts.push(`result: ${JSON.stringify(answer.result)}`);
    showOutcome(status, parts.join("; "), status === "FAILED" ? "bad" : "ok");
  } catch (e) {
    if (!(e instanceof ApiError)) return showOutcome("failed", String(e), "bad");
    return showOutcome(`${codeName(e.code)} (${e.code})`, `HTTP ${e.httpStatus}: ${e.message}`, "bad");
  }
  return undefined;
}

// ---- event tail
let tailStream = null;

function toggleTail(event) {
  event.preventDefault();
  const form = event.target;
  if (tailStream) {
    tailStream.abort();
    tailStream = null;
    $("#tail-state").textContent = "stopped";
    $("#tail-toggle").textContent = "Start";
    return;
  }
  const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
  $("#tail-list").replaceChildren();
  tailStream = follow({ types: list(form.types.value), device_ids: list(form.devices.value) },
    $("#tail-list"), $("#tail-state"));
  $("#tail-toggle").textContent = "Stop";
}

// ---- start
function restartStreams() {
  const device = $("#command-form").device.value;
  if (deviceStream && device) showDevice(device);
  if (tailStream) {
    $("#tail-form").requestSubmit();
    $("#tail-form").requestSubmit();
  }
}

function start() {
  $("#token").value = token();
  $("#auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("#token").value.trim());
    checkHealth();
    loadFleet();
    loadJobs();
    reloadJob();
    restartStreams();
  });
  $("#token-clear").addEventListener("click", () => {
    $("#token").value = "";
    $("#auth-form").requestSubmit();
  });
  $("#health-check").addEventListener("click", checkHealth);
  mountPager(fleet, loadFleet, { filter: "#fleet-filter", next: "#page-next", previous: "#page-prev" });
  commandFields = mountCommandFields($("#command-form"));
  $("#command-form").addEventListener("submit", sendCommand);
  $("#tail-form").addEventListener("submit", toggleTail);
  checkHealth();
  setInterval(checkHealth, HEALTH_EVERY_MS);
  loadFleet();
  startJobs();
}

start();
