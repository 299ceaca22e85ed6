// The web console (GET /console on the gateway's port) in a real browser:
// Debian's chromium driven by npm playwright-core (pinned in package.json;
// no browser is downloaded), against a real hivebridge with a backend policy
// and three simulated devices (bridge_fleet.mjs), reached through a proxy
// that can drop its connections (cuttable_proxy.mjs). It signs in with the bearer
// token, lists exactly the simulator's devices, filters by account, opens a
// device's twin, sends a SchedulerAction and waits for its SUCCEEDED, shows
// the gateway's error code and message for a bad device id, tails
// device-state events live, pages with ListDevices' token, runs fleet jobs
// (the bridge has --state-dir): a dry run's devices, a job started from the
// form to COMPLETED with its counters and each device's outcome, the API's
// error naming a field, a slow job's watch resumed (Last-Event-ID) after its
// connection is cut, then the job cancelled; and, against a second bridge
// without --state-dir, the jobs panel's FAILED_PRECONDITION. It fits a
// phone-width window, and leaves a screenshot (console.png) in
// HIVE_ARTIFACT_DIR.
//
//   HIVEBRIDGE_BINARY=... HIVE_DEVICE_SIM_BINARY=... HIVE_CHROMIUM=/usr/bin/chromium \
//   HIVE_ARTIFACT_DIR=build/tests/console node --test tests/console/console.test.mjs
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createRequire } from "node:module";
import { startFleet, waitFor } from "./bridge_fleet.mjs";
import { startCuttableProxy } from "./cuttable_proxy.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run this test through ctest (tests/console/CMakeLists.txt)`);
  return value;
}

const ACCOUNT_A = "7b1a3c52-5e0d-4b7a-9a53-2f6e8c1d4a10";
const ACCOUNT_B = "0c9e8d7f-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
const DEVICES = [
  { id: "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b", account: ACCOUNT_A },
  { id: "5f0e3a9b-7c1d-4e2f-8a6b-3c4d5e6f7a8b", account: ACCOUNT_A },
  { id: "a3c1e2d4-0b9f-4e8a-9c7d-6b5a4f3e2d1c", account: ACCOUNT_B },
];
const IDS = DEVICES.map((d) => d.id);
// Bounds a hang only: each wait ends as soon as its condition holds.
const HANG_MS = 15000;

let fleet;
// A second bridge without --state-dir (the jobs panel's error), stopped with
// the first once the browser is closed: a connection the browser keeps alive
// would hold its shutdown up.
let bare;
// The browser reaches the bridge through this, so a test can drop its
// connections.
let proxy;
let browser;
let page;
let base;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "hive-chromium-"));

before(async () => {
  fleet = await startFleet({
    hivebridge: env("HIVEBRIDGE_BINARY"), deviceSim: env("HIVE_DEVICE_SIM_BINARY"), devices: DEVICES, stateDir: true,
  });
  proxy = await startCuttableProxy(fleet.httpPort);
  base = `http://127.0.0.1:${proxy.port}`;
  // A fresh profile, and nothing that phones home.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: env("HIVE_CHROMIUM"),
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
  page = browser.pages()[0] ?? await browser.newPage();
  page.setDefaultTimeout(HANG_MS);
  // A script error or a CSP violation fails the test (an API call's error
  // status, which the page shows, is logged as a failed load: not counted).
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) page.errors.push(`console error: ${m.text()}`);
  });
  // Streams the page stops itself (the tail, a job's watch) end as failed loads.
  page.on("requestfailed", (r) => {
    if (page.cutting || r.url().includes("/api/v1/events") || r.url().includes(":watch")) return;
    page.errors.push(`failed: ${r.url()}`);
  });
  page.on("response", (r) => { if (!r.url().includes("/api/v1/") && r.status() >= 400) page.errors.push(`${r.status()}: ${r.url()}`); });
});

after(async () => {
  await browser?.close();
  fs.rmSync(profile, { recursive: true, force: true });
  await proxy?.close();
  await Promise.all([fleet?.stop(), bare?.stop()]);
});

const text = (selector) => page.locator(selector).textContent();
const fleetIds = () => page.locator("#fleet-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.deviceId));

// What the gateway itself answers to `body` for `deviceId`.
async function gatewayAnswer(deviceId, body) {
  const response = await fetch(`${base}/api/v1/devices/${encodeURIComponent(deviceId)}/requests`, {
    method: "POST", headers: { Authorization: `Bearer ${fleet.token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test("the console loads from /console and shows the bridge's health", async (t) => {
  const response = await page.goto(`${base}/console`);
  assert.equal(response.status(), 200);
  assert.equal(new URL(page.url()).pathname, "/console/");
  await waitFor("health to show", async () => (await text("#health")) === "SERVING", HANG_MS);
});

test("without the token the fleet shows the gateway's UNAUTHENTICATED; with it, exactly the simulator's devices", async () => {
  await page.locator("#fleet-error").waitFor({ state: "visible" });
  assert.match(await text("#fleet-error"), /^UNAUTHENTICATED \(16\), HTTP 401: /);

  await page.getByLabel("Bearer token").fill(fleet.token);
  await page.getByRole("button", { name: "Use token" }).click();
  await waitFor("the fleet table to list the devices", async () => (await fleetIds()).length === DEVICES.length, HANG_MS);
  assert.deepEqual((await fleetIds()).sort(), [...IDS].sort());
  assert.equal(await page.locator("#fleet-error").isHidden(), true);
  // Each row: id, online, account, version, address, last alive.
  const row = page.locator(`#fleet-table tbody tr[data-device-id="${IDS[2]}"]`);
  const cells = await row.locator("th, td").allTextContents();
  assert.equal(cells[0], IDS[2]);
  assert.equal(cells[1], "online");
  assert.equal(cells[2], ACCOUNT_B);
  assert.match(cells[4], /^127\.0\.0\.1:\d+$/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 1);
});

test("the account filter lists only that account's devices", async () => {
  await page.locator("#fleet-filter").getByRole("textbox", { name: "Account", exact: true }).fill(ACCOUNT_B);
  await page.getByRole("button", { name: "Apply" }).click();
  await waitFor("the filtered table", async () => (await fleetIds()).length === 1, HANG_MS);
  assert.deepEqual(await fleetIds(), [IDS[2]]);
  await page.locator("#fleet-filter").getByRole("textbox", { name: "Account", exact: true }).fill("");
  await page.getByRole("button", { name: "Apply" }).click();
  await waitFor("the whole fleet again", async () => (await fleetIds()).length === DEVICES.length, HANG_MS);
});

test("paging follows ListDevices' page token; the device id filter narrows the page", async () => {
  const filter = page.locator("#fleet-filter");
  await filter.getByRole("spinbutton", { name: "Page size" }).fill("2");
  await filter.getByRole("button", { name: "Apply" }).click();
  await waitFor("a page of two", async () => (await fleetIds()).length === 2, HANG_MS);
  const first = await fleetIds();
  assert.equal(await text("#page-label"), "Page 1");
  assert.equal(await page.getByRole("button", { name: "Previous page" }).isDisabled(), true);
  await page.getByRole("button", { name: "Next page" }).click();
  await waitFor("page 2", async () => (await text("#page-label")) === "Page 2", HANG_MS);
  const second = await fleetIds();
  assert.equal(second.length, 1);
  assert.deepEqual([...first, ...second].sort(), [...IDS].sort());
  assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true);
  await page.getByRole("button", { name: "Previous page" }).click();
  await waitFor("page 1 again", async () => (await text("#page-label")) === "Page 1", HANG_MS);
  assert.deepEqual(await fleetIds(), first);

  await filter.getByRole("spinbutton", { name: "Page size" }).fill("25");
  await filter.getByRole("searchbox", { name: "Device id contains" }).fill(IDS[1].slice(0, 8));
  await filter.getByRole("button", { name: "Apply" }).click();
  await waitFor("the id filter", async () => (await fleetIds()).length === 1, HANG_MS);
  assert.deepEqual(await fleetIds(), [IDS[1]]);
  await filter.getByRole("searchbox", { name: "Device id contains" }).fill("");
  await filter.getByRole("button", { name: "Apply" }).click();
  await waitFor("the whole fleet again", async () => (await fleetIds()).length === DEVICES.length, HANG_MS);
});

test("a device's page shows its twin and its live events", async () => {
  await page.getByRole("button", { name: IDS[0] }).click();
  await waitFor("the twin", async () => (await text("#device-twin")).includes(`"deviceId": "${IDS[0]}"`), HANG_MS);
  const twin = JSON.parse(await text("#device-twin"));
  assert.equal(twin.accountId, ACCOUNT_A);
  assert.equal(twin.online, true);
  await page.locator("#device-events li").first().waitFor();
  const devices = await page.locator("#device-events li").evaluateAll((items) => items.map((i) => i.dataset.deviceId));
  assert.deepEqual([...new Set(devices)], [IDS[0]]);
});

test("a SchedulerAction sent from the form, waiting for the result, SUCCEEDS", async () => {
  const form = page.locator("#command-form");
  assert.equal(await form.getByRole("textbox", { name: "Device id", exact: true }).inputValue(), IDS[0]);
  await form.getByRole("combobox", { name: /^Command kind/ }).selectOption("schedulerAction");
  await form.getByRole("combobox", { name: /^Action/ }).selectOption("ACTION_START");
  await form.getByRole("textbox", { name: "Instance", exact: true }).fill("0f8e4a7c-2a53-4b52-9d6e-5b8f1f6f2d11");
  await form.getByRole("combobox", { name: /^Wait for/ }).selectOption("WAIT_MODE_RESULT");
  await form.getByRole("button", { name: "Send" }).click();
  await waitFor("the outcome", async () => !["none yet", "sending…"].includes(await text("#outcome-status")), HANG_MS);
  assert.equal(await text("#outcome-status"), "SUCCEEDED", await text("#outcome-detail"));
  assert.match(await text("#outcome-detail"), /^request [0-9a-f-]{36}/);
  assert.equal(await page.locator("#outcome").getAttribute("aria-live"), "polite");
});

test("a bad device id shows the gateway's error code and message", async () => {
  const form = page.locator("#command-form");
  await form.getByRole("textbox", { name: "Device id", exact: true }).fill("not-a-device");
  await form.getByRole("button", { name: "Send" }).click();
  await waitFor("the error", async () => (await text("#outcome-status")) !== "SUCCEEDED"
    && (await text("#outcome-status")) !== "sending…", HANG_MS);
  const expected = await gatewayAnswer("not-a-device", {
    command: { schedulerAction: { action: "ACTION_START", instance: "0f8e4a7c-2a53-4b52-9d6e-5b8f1f6f2d11" } },
    wait: "WAIT_MODE_RESULT",
  });
  assert.equal(expected.status, 400);
  assert.equal(expected.body.code, 3);
  assert.equal(await text("#outcome-status"), "INVALID_ARGUMENT (3)");
  assert.equal(await text("#outcome-detail"), `HTTP 400: ${expected.body.message}`);
});

test("the event tail shows device-state events live, filtered by type, and resumes after the network drops", async () => {
  const tails = [];
  // The tail's requests (a device page's stream is one of /api/v1/events too).
  const onRequest = (r) => {
    if (r.url().includes("/api/v1/events") && r.url().includes("device-state")) tails.push(r.headers()["last-event-id"] ?? "");
  };
  page.on("request", onRequest);
  const tail = page.locator("#tail-form");
  await tail.getByLabel("Types").fill("device-state");
  await tail.getByRole("button", { name: "Start" }).click();
  await waitFor("the tail to be live", async () => (await text("#tail-state")) === "live", HANG_MS);
  const live = Date.now();
  await page.locator('#tail-list li[data-type="device-state"]').first().waitFor();
  console.log(`first device-state event shown ${Date.now() - live} ms after the tail went live`);
  const items = await page.locator("#tail-list li").evaluateAll((li) => li.map((i) => [i.dataset.type, i.dataset.deviceId]));
  for (const [type, device] of items) {
    assert.equal(type, "device-state");
    assert.ok(IDS.includes(device), device);
  }

  // The connection drops: the tail reopens after the last event it showed.
  const shownIds = () => page.locator("#tail-list li").evaluateAll((li) => li.map((i) => i.dataset.id));
  page.cutting = true;
  assert.ok(proxy.cut() >= 1);
  await waitFor("the tail to notice", async () => (await text("#tail-state")) === "reconnecting…", HANG_MS);
  await waitFor("the tail to reopen", () => tails.length >= 2, HANG_MS);
  await waitFor("the tail to be live again", async () => (await text("#tail-state")) === "live", HANG_MS);
  page.cutting = false;
  page.off("request", onRequest);
  assert.equal(tails[0], "");
  const before = await shownIds();
  assert.ok(before.includes(tails[1]), `the reconnect's Last-Event-ID ${tails[1]} is an event shown`);
  await waitFor("an event after the reconnect", async () => (await shownIds()).length > before.length, HANG_MS);
  const ids = await shownIds();
  assert.deepEqual([...new Set(ids)], ids, "no event shown twice");
  await tail.getByRole("button", { name: "Stop" }).click();
  assert.equal(await text("#tail-state"), "stopped");
});

// ---- fleet jobs
const INSTANCE = "0f8e4a7c-2a53-4b52-9d6e-5b8f1f6f2d11";
const jobForm = () => page.locator("#job-form");
const jobCounter = (name) => text(`#job-counters [data-counter="${name}"] dd`);
const outcomes = () => page.locator("#job-outcomes tbody tr")
  .evaluateAll((rows) => rows.map((r) => [r.dataset.deviceId, r.dataset.status]));

async function fillJobCommand() {
  const command = jobForm().getByRole("group", { name: "Command" });
  await command.getByRole("combobox", { name: /^Command kind/ }).selectOption("schedulerAction");
  await command.getByRole("combobox", { name: /^Action/ }).selectOption("ACTION_START");
  await command.getByRole("textbox", { name: "Instance", exact: true }).fill(INSTANCE);
}

async function jobOfApi(jobId) {
  const response = await fetch(`${base}/api/v1/jobs/${jobId}`, { headers: { Authorization: `Bearer ${fleet.token}` } });
  assert.equal(response.status, 200);
  return (await response.json()).job;
}

async function jobsOfApi() {
  const response = await fetch(`${base}/api/v1/jobs`, { headers: { Authorization: `Bearer ${fleet.token}` } });
  assert.equal(response.status, 200);
  return (await response.json()).jobs;
}

test("a job from the form: the dry run lists the selector's devices, the job reaches COMPLETED with each device's outcome, the list shows it", async () => {
  const form = jobForm();
  const selector = form.getByRole("group", { name: /^Selector/ });
  await selector.getByRole("textbox", { name: "Account", exact: true }).fill(ACCOUNT_A);
  await fillJobCommand();
  await form.getByRole("combobox", { name: /^Wait for/ }).selectOption("WAIT_MODE_RESULT");
  await form.getByRole("textbox", { name: "Description" }).fill("console test: start instance");

  await form.getByRole("button", { name: "Dry run" }).click();
  await waitFor("the dry run", async () => (await text("#job-start-status")).startsWith("dry run"), HANG_MS);
  assert.equal(await text("#job-start-status"), "dry run: 2 devices selected");
  const selected = await page.locator("#job-dry-run-devices li").allTextContents();
  assert.deepEqual(selected, DEVICES.filter((d) => d.account === ACCOUNT_A).map((d) => d.id).sort());
  assert.deepEqual(await jobsOfApi(), [], "a dry run started a job");

  await form.getByRole("button", { name: "Start job" }).click();
  await waitFor("the job page", async () => (await text("#job-title")).startsWith("Job "), HANG_MS);
  const jobId = (await text("#job-title")).slice("Job ".length);
  await waitFor("COMPLETED", async () => (await text("#job-state")) === "COMPLETED", HANG_MS);
  assert.equal(await jobCounter("selected"), "2");
  assert.equal(await jobCounter("succeeded"), "2");
  assert.equal(await jobCounter("failed"), "0");
  await waitFor("both outcomes", async () => (await outcomes()).length === 2, HANG_MS);
  assert.deepEqual(await outcomes(), selected.map((id) => [id, "SUCCEEDED"]));
  await waitFor("the stream's end", async () => (await text("#job-stream-state")) === "ended", HANG_MS);
  assert.equal(await page.locator("#job-cancel").isHidden(), true);
  assert.match(await text("#job-spec"), /Selector.*account 7b1a3c52-5e0d-4b7a-9a53-2f6e8c1d4a10, online only/);
  // What the page shows is what the API says.
  const job = await jobOfApi(jobId);
  assert.equal(job.state, "JOB_STATE_COMPLETED");
  assert.equal(job.counters.succeeded, "2");

  const row = page.locator(`#jobs-table tbody tr[data-job-id="${jobId}"]`);
  await waitFor("the job in the list, COMPLETED", async () => (await row.count()) === 1
    && (await row.getAttribute("data-state")) === "COMPLETED", HANG_MS);
  const cells = await row.locator("th, td").allTextContents();
  assert.equal(cells[0], jobId);
  assert.equal(cells[2], "console test: start instance");
  assert.equal(cells[3], ACCOUNT_A);
  assert.match(cells[4], /^2\/2 done: 2 succeeded of 2 selected/);
});

test("a job the API refuses shows its error, naming the field, beside the form", async () => {
  const form = jobForm();
  await form.getByRole("textbox", { name: /^Waves/ }).fill("50, 90");
  await form.getByRole("button", { name: "Start job" }).click();
  await waitFor("the error", async () => (await text("#job-start-status")).startsWith("INVALID_ARGUMENT"), HANG_MS);
  assert.equal(await text("#job-start-status"), "INVALID_ARGUMENT (3)");
  assert.equal(await text("#job-start-detail"), "HTTP 400: rollout.waves: the last wave's percent is 90; it must be 100");
  assert.equal(await form.getByRole("textbox", { name: /^Waves/ }).getAttribute("aria-invalid"), "true");
  await form.getByRole("textbox", { name: /^Waves/ }).fill("");
});

test("a slow job's page resumes its watch after the network drops, and the job is cancelled from it", async () => {
  const watches = [];
  const onRequest = (r) => { if (r.url().includes(":watch")) watches.push(r.headers()["last-event-id"] ?? ""); };
  page.on("request", onRequest);
  const form = jobForm();
  await form.getByRole("radio", { name: "A list of device ids" }).check();
  await form.getByRole("textbox", { name: /^Device ids/ }).fill(IDS.join("\n"));
  // One device at once, the next 10 s later, the last after 20 s (past
  // HANG_MS): it is cancelled before its turn.
  await form.getByRole("spinbutton", { name: /^Max rate/ }).fill("0.1");
  await form.getByRole("textbox", { name: "Description" }).fill("console test: slow");
  await form.getByRole("button", { name: "Start job" }).click();
  await waitFor("the slow job's page", async () => (await text("#job-spec")).includes("console test: slow"), HANG_MS);
  const jobId = (await text("#job-title")).slice("Job ".length);
  const cancel = page.getByRole("button", { name: "Cancel job" });
  await cancel.waitFor();
  assert.equal(await text("#job-state"), "RUNNING");
  await waitFor("the first device's outcome", async () => (await outcomes()).length === 1, HANG_MS);

  // The connection drops (the proxy cuts it): the stream breaks, and is
  // reopened after the last change seen (Last-Event-ID), not from the start.
  page.cutting = true;
  assert.ok(proxy.cut() >= 1);
  await waitFor("the watch to notice", async () => (await text("#job-stream-state")) === "reconnecting…", HANG_MS);
  // The bridge answers a resumed watch's headers with its next change, so
  // the request itself is what shows the page reconnected.
  await waitFor("the watch to reopen", () => watches.length === 2, HANG_MS);
  page.cutting = false;
  page.off("request", onRequest);
  assert.equal(watches[0], "");
  assert.ok(Number(watches[1]) >= 2, `the reconnect's Last-Event-ID: ${JSON.stringify(watches)}`);
  // Each device once, however often its outcome was streamed.
  const rows = (await outcomes()).map(([id]) => id);
  assert.deepEqual([...new Set(rows)], rows);

  // Declining the confirm changes nothing; accepting it cancels.
  page.once("dialog", (dialog) => dialog.dismiss());
  await cancel.click();
  assert.equal((await jobOfApi(jobId)).state, "JOB_STATE_RUNNING");
  let asked = "";
  page.once("dialog", (dialog) => { asked = dialog.message(); dialog.accept(); });
  await cancel.click();
  await waitFor("CANCELLED", async () => (await text("#job-state")) === "CANCELLED", HANG_MS);
  assert.match(asked, new RegExp(`^Cancel job ${jobId}\\?`));
  await waitFor("the stream's end", async () => (await text("#job-stream-state")) === "ended", HANG_MS);
  assert.equal(await jobCounter("selected"), "3");
  assert.ok(Number(await jobCounter("skipped")) >= 1, await text("#job-counters"));
  assert.equal(await cancel.isHidden(), true);
  const job = await jobOfApi(jobId);
  assert.equal(job.state, "JOB_STATE_CANCELLED");
  assert.equal(await jobCounter("skipped"), job.counters.skipped);
  const row = page.locator(`#jobs-table tbody tr[data-job-id="${jobId}"]`);
  await waitFor("the list to say CANCELLED", async () => (await row.getAttribute("data-state")) === "CANCELLED", HANG_MS);
});

test("without --state-dir the jobs panel shows the API's FAILED_PRECONDITION instead of a list", async () => {
  bare = await startFleet({ hivebridge: env("HIVEBRIDGE_BINARY"), deviceSim: env("HIVE_DEVICE_SIM_BINARY"), devices: [] });
  const other = await browser.newPage();
  try {
    const errors = [];
    other.on("pageerror", (e) => errors.push(e.message));
    other.setDefaultTimeout(HANG_MS);
    await other.goto(`http://127.0.0.1:${bare.httpPort}/console/`);
    await other.getByLabel("Bearer token").fill(bare.token);
    await other.getByRole("button", { name: "Use token" }).click();
    await waitFor("the jobs error", async () => /^FAILED_PRECONDITION/.test(await other.locator("#jobs-error").textContent()), HANG_MS);
    assert.equal(await other.locator("#jobs-error").textContent(),
      "FAILED_PRECONDITION (9), HTTP 400: fleet jobs need --state-dir: each device's command is a queued request, stored durably");
    assert.equal(await other.locator("#jobs-table").isHidden(), true);
    assert.deepEqual(errors, []);
  } finally {
    await other.close();
  }
});

test("a screenshot at 1280 px is saved, and the page fits a phone's width", async () => {
  const dir = env("HIVE_ARTIFACT_DIR");
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, "console.png"), fullPage: true });
  assert.ok(fs.statSync(path.join(dir, "console.png")).size > 10000);

  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, "the page scrolls sideways at 390 px");
  assert.deepEqual(page.errors, []);
});
