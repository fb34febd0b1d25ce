// Helpers shared by the playground and the admin page: building elements, calling the API,
// formatting. Plain ES module, no dependencies.

/** An element: h("button", {class: "primary", onclick: fn, "aria-label": "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const svg = attrs && attrs.svg;
  const node = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "svg" || value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "value" && !svg) {
      node.value = value;
    } else if (name === "checked" || name === "selected" || name === "disabled" || name === "open") {
      node[name] = Boolean(value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** An API error with the server's `{"error": {"code", "message"}}` shape. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
  }
}

/** Call the API; resolves to the parsed JSON (or null for an empty body), rejects with ApiError. */
export async function api(path, { method = "GET", headers = {}, query, body, raw = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, "network_error", `The server did not answer (${err.message}).`);
  }
  if (!response.ok) {
    let code;
    let message;
    try {
      const data = await response.json();
      code = data && data.error && data.error.code;
      message = data && data.error && data.error.message;
      if (!message && data && data.detail) message = JSON.stringify(data.detail);
    } catch {
      message = response.statusText;
    }
    throw new ApiError(response.status, code, message);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** "2026-11-27T21:52:25.123Z" -> a short local date and time; "" for null. */
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** An id or address shortened for display: 0x1234…abcd. */
export function shorten(text, head = 6, tail = 4) {
  const value = String(text || "");
  return value.length <= head + tail + 1 ? value : `${value.slice(0, head)}…${value.slice(-tail)}`;
}

/** A wei amount (decimal string) as ETH, exactly (BigInt arithmetic, trailing zeros dropped). */
export function formatWei(wei) {
  try {
    const value = BigInt(wei);
    const negative = value < 0n;
    const abs = negative ? -value : value;
    const whole = abs / 10n ** 18n;
    const fraction = (abs % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
    return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""}`;
  } catch {
    return String(wei);
  }
}

/** `count` random bytes as 0x-prefixed hex. */
export function randomHex(count) {
  const bytes = crypto.getRandomValues(new Uint8Array(count));
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Copy text to the clipboard; falls back to selecting an input for older browsers. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.select();
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** Offer JSON as a file download (a Blob URL: no inline script, allowed by the page's CSP). */
export function downloadJSON(data, filename) {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Show a short status text in a live region (screen readers announce it). */
export function say(region, text, kind = "") {
  region.className = kind ? `notice ${kind}` : "notice";
  region.textContent = text;
  region.hidden = !text;
}

/** A message of an ApiError for people. */
export function describeError(err) {
  if (err instanceof ApiError) return `${err.message} (${err.status} ${err.code})`;
  return String((err && err.message) || err);
}
