// A Server-Sent Events parser (the WHATWG "event stream interpretation"),
// fed text as it arrives: lines end in \r\n, \n or \r; `field: value` lines
// (one leading space of the value dropped) build an event, a blank line
// dispatches it; `:` lines are comments (the bridge's heartbeats). Fields
// other than id, event and data are ignored, as is an event without data.

export class SseParser {
  // onEvent({id, event, data}); `event` defaults to "message".
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.afterCr = false;
    this.lastId = "";
    this.reset();
  }

  reset() {
    this.event = "";
    this.data = [];
  }

  push(text) {
    if (!text) return;
    // A \r that ended the last piece may be the first half of \r\n: the line
    // is already done, so a \n starting this piece ends nothing more.
    if (this.afterCr && text.startsWith("\n")) text = text.slice(1);
    this.buffer += text;
    this.afterCr = this.buffer.endsWith("\r");
    const lines = this.buffer.split(/\r\n|\n|\r/);
    this.buffer = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    return undefined;
  }

  dispatch() {
    if (this.data.length > 0) {
      this.onEvent({ id: this.lastId, event: this.event || "message", data: this.data.join("\n") });
    }
    this.reset();
  }
}

// Reads `reader` (text chunks) to its end, calling onEvent for each event.
export async function readEvents(reader, onEvent) {
  const parser = new SseParser(onEvent);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.push(value);
  }
}

// Waits `ms`, or less when `signal` aborts.
function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// Follows a resumable stream to its real end. `open(lastEventId)` opens it
// (resolving to a reader of its text, or throwing); each event goes to
// onEvent. When the stream ends or breaks before `finished()` says it is
// over, it is opened again after a pause (retryMs, doubling up to maxRetryMs
// while nothing arrives) with the id of the last event seen, so the server
// resumes right after it: nothing is missed and nothing is shown twice. An
// error `retryable(e)` refuses ends the follow (thrown), as does `signal`
// (returns). onState("live" | "reconnecting…") says where it stands.
export async function followResumable({
  open, onEvent, finished, signal, onState = () => {}, retryable = () => true, retryMs = 1000, maxRetryMs = 8000,
}) {
  let lastId = "";
  let delay = retryMs;
  for (;;) {
    try {
      const reader = await open(lastId);
      onState("live");
      await readEvents(reader, (event) => {
        lastId = event.id;
        delay = retryMs;
        onEvent(event);
      });
      if (signal?.aborted) return;
      if (finished()) return;
    } catch (e) {
      if (signal?.aborted) return;
      if (!retryable(e)) throw e;
    }
    onState("reconnecting…");
    await pause(delay, signal);
    if (signal?.aborted) return;
    delay = Math.min(delay * 2, maxRetryMs);
  }
}
