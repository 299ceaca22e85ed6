// The console's Server-Sent Events parser (server/console/sse.js), fed text in
// arbitrary pieces as fetch() delivers it: every line ending, comments (the
// bridge's heartbeats), multi-line data, `id:` carried over, events without
// data dropped, and the bridge's own framing (sse_stream.h) read back; and
// followResumable, which a job's page follows WatchJob with: reopened after
// the last event's id when the stream breaks, until it is really over.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const { SseParser, readEvents, followResumable } = await import(
  pathToFileURL(path.join(import.meta.dirname, "..", "..", "server", "console", "sse.js")).href);

function parse(...pieces) {
  const events = [];
  const parser = new SseParser((e) => events.push(e));
  for (const piece of pieces) parser.push(piece);
  return events;
}

test("reads the bridge's framing: id, event, data, a blank line", () => {
  assert.deepEqual(parse("id: E:1\nevent: device-state\ndata: {\"a\":1}\n\n"),
    [{ id: "E:1", event: "device-state", data: "{\"a\":1}" }]);
});

test("an event split anywhere, even inside \\r\\n, is read the same", () => {
  const text = "id: E:2\r\nevent: instances\r\ndata: x\r\n\r\n";
  for (let cut = 0; cut <= text.length; cut++) {
    assert.deepEqual(parse(text.slice(0, cut), text.slice(cut)), [{ id: "E:2", event: "instances", data: "x" }], `cut at ${cut}`);
  }
});

test("comments are skipped; data lines join with \\n; no space after the colon is fine", () => {
  assert.deepEqual(parse(": heartbeat\n\ndata:one\ndata:  two\n\n"), [{ id: "", event: "message", data: "one\n two" }]);
});

test("lone \\r ends lines too, and the last id carries over to later events", () => {
  assert.deepEqual(parse("id: 7\rdata: a\r\rdata: b\r\r"),
    [{ id: "7", event: "message", data: "a" }, { id: "7", event: "message", data: "b" }]);
});

test("an empty piece between \r and \n changes nothing", () => {
  assert.deepEqual(parse("data: a\r", "", "\ndata: b\n\n"), [{ id: "", event: "message", data: "a\nb" }]);
});

test("an event without data, unknown fields and an unfinished event are not dispatched", () => {
  assert.deepEqual(parse("event: x\n\nretry: 10\nfoo: bar\n\ndata: pending\n"), []);
});

test("readEvents drains a reader to its end", async () => {
  const chunks = ["event: a\nda", "ta: 1\n\n", "event: b\ndata: 2\n\n"];
  const reader = { read: async () => (chunks.length ? { value: chunks.shift(), done: false } : { done: true }) };
  const seen = [];
  await readEvents(reader, (e) => seen.push(`${e.event}=${e.data}`));
  assert.deepEqual(seen, ["a=1", "b=2"]);
});

// A reader over `chunks`, then its end, or `error` thrown at the end.
function readerOf(chunks, error) {
  return {
    read: async () => {
      if (chunks.length) return { value: chunks.shift(), done: false };
      if (error) throw error;
      return { done: true };
    },
  };
}

test("followResumable reopens a broken stream with the last event's id, and stops when it is finished", async () => {
  const opened = [];
  const streams = [
    () => readerOf(["id: 1\nevent: job\ndata: a\n\n", "id: 2\nevent: outcome\ndata: b\n\n"], new TypeError("network error")),
    () => { throw new TypeError("bridge unreachable"); },
    () => readerOf(["id: 3\nevent: outcome\ndata: c\n\n"]),
    () => readerOf(["id: 4\nevent: job\ndata: end\n\n"]),
  ];
  const seen = [];
  const states = [];
  await followResumable({
    open: async (lastId) => { opened.push(lastId); return streams.shift()(); },
    onEvent: (e) => seen.push(`${e.id}=${e.data}`),
    onState: (s) => states.push(s),
    finished: () => seen.at(-1) === "4=end",
    retryMs: 1,
  });
  // Broken after 2, refused, ended early after 3 (not finished), ended after 4.
  assert.deepEqual(opened, ["", "2", "2", "3"]);
  assert.deepEqual(seen, ["1=a", "2=b", "3=c", "4=end"]);
  assert.deepEqual(states, ["live", "reconnecting…", "reconnecting…", "live", "reconnecting…", "live"]);
});

test("followResumable throws what retryable refuses, and returns once its signal aborts", async () => {
  const refused = new Error("NOT_FOUND");
  await assert.rejects(followResumable({
    open: async () => { throw refused; }, onEvent: () => {}, finished: () => false, retryable: (e) => e !== refused,
  }), refused);

  const controller = new AbortController();
  let opens = 0;
  await followResumable({
    open: async () => {
      opens += 1;
      if (opens === 2) controller.abort();
      return readerOf([]);
    },
    onEvent: () => {}, finished: () => false, signal: controller.signal, retryMs: 1,
  });
  assert.equal(opens, 2);
});
