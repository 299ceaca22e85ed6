// The console's Server-Sent Events parser (server/console/sse.js), fed text in
// arbitrary pieces as fetch() delivers it: every line ending, comments (the
// bridge's heartbeats), multi-line data, `id:` carried over, events without
// data dropped, and the bridge's own framing (sse_stream.h) read back.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const { SseParser, readEvents } = await import(
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
