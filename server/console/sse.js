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
