// The gateway's /api/v1 as the console calls it: JSON in and out, the
// optional bearer token (sessionStorage: this tab only, gone when it closes)
// as Authorization on every call, and the gateway's error body
// {"code", "message", "details"} turned into an ApiError.

import { followResumable } from "./sse.js";

const TOKEN_KEY = "hivebridge.console.token";

// The API beside the console: /console/ → /api/v1/, also behind a proxy
// that serves the bridge under a path prefix.
const API_BASE = new URL("../api/v1/", document.baseURI);

// gRPC status code names, by number (the gateway's `code`).
const CODE_NAMES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
  "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

export function codeName(code) {
  return CODE_NAMES[code] ?? `code ${code}`;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(httpStatus, code, message) {
    super(message);
    this.httpStatus = httpStatus;
    this.code = code;
  }

  describe() {
    return `${codeName(this.code)} (${this.code}), HTTP ${this.httpStatus}: ${this.message}`;
  }
}

function headers(extra = {}) {
  const all = { ...extra };
  if (token()) all.Authorization = `Bearer ${token()}`;
  return all;
}

export function apiUrl(path, params = {}) {
  const url = new URL(path, API_BASE);
  for (const [name, value] of Object.entries(params)) {
    for (const v of [value].flat()) {
      if (v !== undefined && v !== "") url.searchParams.append(name, v);
    }
  }
  return url;
}

// The error a failed response carries: the gateway's body when it has one.
async function errorOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (typeof body.code === "number") return new ApiError(response.status, body.code, body.message ?? "");
  } catch {
    // not JSON: a proxy's page, say
  }
  return new ApiError(response.status, 2, text.trim() || response.statusText);
}

// The bridge unreachable or going away (UNAVAILABLE): what a call that
// could not reach it fails with, and a stream's end worth reopening it for.
const UNAVAILABLE = 14;

// One call. `okStatuses`: HTTP statuses besides 2xx whose body is an answer
// (the health endpoint's 503).
export async function call(method, path, { params, body, okStatuses = [] } = {}) {
  let response;
  try {
    response = await fetch(apiUrl(path, params), {
      method,
      headers: headers(body === undefined ? { Accept: "application/json" }
        : { Accept: "application/json", "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, UNAVAILABLE, `bridge unreachable: ${e.message}`);
  }
  if (!response.ok && !okStatuses.includes(response.status)) throw await errorOf(response);
  return response.json();
}

// Opens an event stream (the gateway's Server-Sent Events) with fetch(), as
// EventSource cannot send Authorization. Resolves once the bridge accepted
// it (or throws its ApiError); `reader` then yields the body's text.
// `lastEventId`, when set, is sent as Last-Event-ID: the stream resumes
// right after that event, as EventSource does when it reconnects.
export async function openStream(path, params, signal, lastEventId = "") {
  let response;
  try {
    const extra = lastEventId ? { "Last-Event-ID": lastEventId } : {};
    response = await fetch(apiUrl(path, params), {
      headers: headers({ Accept: "text/event-stream", ...extra }), cache: "no-store", signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, UNAVAILABLE, `bridge unreachable: ${e.message}`);
  }
  if (!response.ok) throw await errorOf(response);
  return response.body.pipeThrough(new TextDecoderStream()).getReader();
}

// Follows an API stream (`path` with `params`) with followResumable (sse.js):
// each event but `error` goes to onEvent. When the connection drops, or the
// bridge ends the stream UNAVAILABLE (its shutdown), it is opened again after
// the last event seen (Last-Event-ID); an `error` event with any other code
// ends it, as does `over()` once true. Resolves with the last `error` event's
// body ({code, message}; null without one), or rejects with the ApiError that
// refused the stream.
export async function followApiStream({ path, params = {}, onEvent, onState, over = () => false, signal }) {
  let error = null;
  await followResumable({
    open: (lastId) => openStream(path, params, signal, lastId),
    onEvent: (event) => {
      if (event.event === "error") {
        error = JSON.parse(event.data);
        return;
      }
      onEvent(event);
    },
    onState,
    finished: () => over() || (error !== null && error.code !== UNAVAILABLE),
    retryable: (e) => !(e instanceof ApiError) || e.code === UNAVAILABLE,
    signal,
  });
  return error;
}

// How a followed stream ended, for its state line: "ended", or
// "ended: NOT_FOUND (5): job … is not known" with the error it ended on.
export function streamEnd(error) {
  return error ? `ended: ${codeName(error.code)} (${error.code}): ${error.message}` : "ended";
}
