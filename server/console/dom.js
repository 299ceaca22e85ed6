// The small DOM helpers every view of the console uses. What the bridge
// returns is always written as text (textContent), never parsed as HTML.
import { ApiError } from "./api.js";

export const $ = (selector) => document.querySelector(selector);

// <tag attributes...>text</tag>
export function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

// An RFC 3339 timestamp in the reader's locale; "—" when unset.
export function when(timestamp) {
  if (!timestamp) return "—";
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toLocaleString();
}

// An error as a line for people: the gateway's code, HTTP status and message.
export function describeError(e) {
  return e instanceof ApiError ? e.describe() : String(e);
}
