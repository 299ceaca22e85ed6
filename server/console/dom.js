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

// Paging by the API's page tokens: `pages` is {tokens, page, next} (the
// token of each page seen, the page shown, the next page's token); the
// filter form starts again at the first page, and Next and Previous move
// through the tokens; `load()` shows `pages.page`.
export function mountPager(pages, load, { filter, next, previous }) {
  $(filter).addEventListener("submit", (event) => {
    event.preventDefault();
    pages.tokens = [""];
    pages.page = 0;
    load();
  });
  $(next).addEventListener("click", () => {
    pages.tokens[pages.page + 1] = pages.next;
    pages.page += 1;
    load();
  });
  $(previous).addEventListener("click", () => {
    pages.page = Math.max(0, pages.page - 1);
    load();
  });
}
