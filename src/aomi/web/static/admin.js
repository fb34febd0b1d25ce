// The admin page at `/admin`: Apps, App keys, sessions and usage, on the admin API
// (`/admin/api/*`, `Authorization: Bearer <AOMI_ADMIN_TOKEN>`).

import { h, fill, api, ApiError, formatTime, shorten, copyText, say, describeError } from "./common.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "aomi.admin.token";
const PAGE = 50;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  apps: [],
  keys: [],
  sessionsNext: null,
  openKeyAction: null,
};

// ---------------------------------------------------------------- the admin API

async function admin(path, options = {}) {
  try {
    return await api(`/admin/api${path}`, {
      ...options,
      headers: { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) },
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut("The admin token was not accepted: sign in again.");
    }
    throw err;
  }
}

function status(text, kind = "") {
  say($("status"), text, kind);
}

function failed(what, err) {
  status(`${what}: ${describeError(err)}`, "error");
}

/** Give each cell its column's heading as `data-label` (narrow screens show rows as cards). */
function labelCells(tbody) {
  const headings = [...tbody.closest("table").querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of tbody.rows) {
    [...row.cells].forEach((cell, i) => {
      if (headings[i] && cell.colSpan === 1) cell.dataset.label = headings[i];
    });
  }
}

// ---------------------------------------------------------------- signing in

async function signIn(token) {
  state.token = token;
  try {
    await loadApps();
  } catch (err) {
    state.token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    const box = $("login-error");
    box.textContent =
      err instanceof ApiError && err.status === 401
        ? "That admin token is not valid."
        : `Could not reach the admin API: ${describeError(err)}`;
    box.hidden = false;
    showLogin();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login-error").hidden = true;
  $("login").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  status("");
  selectTab(sessionStorage.getItem("aomi.admin.tab") || "apps");
}

function showLogin() {
  $("login").hidden = false;
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("admin-token").focus();
}

function signOut(message) {
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
  if (message) {
    const box = $("login-error");
    box.textContent = message;
    box.hidden = false;
  }
}

// ---------------------------------------------------------------- tabs

const TABS = ["apps", "keys", "sessions", "usage"];
const loaders = {
  apps: () => loadApps(),
  keys: () => loadKeys(),
  sessions: () => loadSessions(false),
  usage: () => loadUsage(),
};

function selectTab(name, focus = false) {
  if (!TABS.includes(name)) name = "apps";
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  sessionStorage.setItem("aomi.admin.tab", name);
  status("");
  loaders[name]().catch((err) => failed(`Could not load ${name}`, err));
}

function wireTabs() {
  TABS.forEach((tab, index) => {
    const button = $(`tab-${tab}`);
    button.addEventListener("click", () => selectTab(tab));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        selectTab(TABS[(index + step + TABS.length) % TABS.length], true);
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        selectTab(event.key === "Home" ? TABS[0] : TABS[TABS.length - 1], true);
      }
    });
  });
}

// ---------------------------------------------------------------- Apps

async function loadApps() {
  const data = await admin("/apps");
  state.apps = data.apps || [];
  fill(
    $("apps-rows"),
    state.apps.map((app) =>
      h(
        "tr",
        { dataset: { app: app.name } },
        h("td", {}, h("strong", {}, app.name)),
        h("td", {}, app.description || ""),
        h("td", {}, h("span", { class: `badge ${app.keyed ? "warn" : "ok"}` }, app.keyed ? "keyed" : "public")),
        h("td", {}, app.default_model || ""),
        h("td", {}, h("button", { type: "button", class: "small", onclick: () => showApp(app.name) }, "Show",
          h("span", { class: "visually-hidden" }, ` ${app.name}`))),
      ),
    ),
  );
  labelCells($("apps-rows"));
  fillAppChoices();
}

function fillAppChoices() {
  const names = state.apps.map((a) => a.name);
  const checks = $("issue-apps");
  const checked = new Set([...checks.querySelectorAll("input:checked")].map((i) => i.value));
  fill(
    checks,
    names.map((name) =>
      h("label", {}, h("input", { type: "checkbox", name: "apps", value: name, checked: checked.has(name) }), name),
    ),
  );
  for (const id of ["sessions-app", "usage-app"]) {
    const select = $(id);
    const current = select.value;
    fill(select, h("option", { value: "" }, "all"), names.map((n) => h("option", { value: n, selected: n === current }, n)));
  }
}

async function showApp(name) {
  const box = $("app-detail");
  try {
    const app = await admin(`/apps/${encodeURIComponent(name)}`);
    const list = (items) => (items && items.length ? items.join(", ") : "none");
    fill(
      box,
      h("h2", {}, `App ${app.name}`),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, "Description"), h("dd", {}, app.description || ""),
        h("dt", {}, "Access"), h("dd", {}, app.keyed ? "keyed: callers need an App key" : "public"),
        h("dt", {}, "Default model"), h("dd", {}, app.default_model || ""),
        h("dt", {}, "Models"), h("dd", {}, list(app.models)),
        h("dt", {}, "Tools"), h("dd", {}, list(app.tools)),
        h("dt", {}, "Documents"), h("dd", {}, list(app.documents)),
        h("dt", {}, "Secrets"), h("dd", {}, list(app.secrets)),
      ),
    );
    box.hidden = false;
    for (const row of $("apps-rows").children) row.classList.toggle("selected", row.dataset.app === name);
  } catch (err) {
    failed(`Could not load the App ${name}`, err);
  }
}

// ---------------------------------------------------------------- keys

async function loadKeys() {
  if (!state.apps.length) await loadApps();
  const data = await admin("/keys");
  state.keys = data.keys || [];
  renderKeys();
  const select = $("usage-key");
  const current = select.value;
  fill(
    select,
    h("option", { value: "" }, "all"),
    state.keys.map((k) => h("option", { value: k.id, selected: k.id === current }, keyName(k))),
  );
}

function keyName(key) {
  return `${key.prefix}…${key.label ? ` (${key.label})` : ""}`;
}

function renderKeys() {
  fill($("keys-rows"), state.keys.map(keyRow));
  labelCells($("keys-rows"));
}

function keyRow(key) {
  const row = h(
    "tr",
    { dataset: { keyId: key.id } },
    h("td", {}, h("code", {}, `${key.prefix}…`)),
    h("td", {}, key.label || ""),
    h("td", {}, (key.apps || []).join(", ")),
    h("td", {}, h("span", { class: `badge ${key.status}` }, key.status)),
    h("td", {}, formatTime(key.created_at)),
    h("td", {}, key.expires_at ? formatTime(key.expires_at) : "never"),
    h("td", {}, key.last_used_at ? formatTime(key.last_used_at) : "never"),
  );
  const actions = h("td", { class: "key-actions" });
  row.append(actions);
  const name = h("span", { class: "visually-hidden" }, ` ${key.prefix}`);
  if (key.status === "revoked") {
    actions.append(h("span", { class: "muted" }, `revoked ${formatTime(key.revoked_at)}`));
    return row;
  }
  actions.append(
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "small", onclick: () => expiryForm(actions, key) }, "Set expiry", name.cloneNode(true)),
      h("button", { type: "button", class: "small", onclick: () => rotateForm(actions, key) }, "Rotate", name.cloneNode(true)),
      h("button", { type: "button", class: "small danger", onclick: () => confirmRevoke(actions, key) }, "Revoke", name.cloneNode(true)),
    ),
  );
  return row;
}

// An inline "are you sure?" in a row: ``question``, a danger button running ``act`` (a failure is
// reported as ``failure``), and Cancel; ``after`` runs either way (it redraws the list).
function confirmInline(cell, { question, label, failure, act, after }) {
  const yes = h(
    "button",
    {
      type: "button",
      class: "small danger primary",
      onclick: async () => {
        try {
          await act();
        } catch (err) {
          failed(failure, err);
        }
        await after();
      },
    },
    label,
  );
  fill(
    cell,
    h("p", {}, question),
    h("div", { class: "row" }, yes, h("button", { type: "button", class: "small", onclick: () => after() }, "Cancel")),
  );
  yes.focus();
}

function confirmRevoke(cell, key) {
  confirmInline(cell, {
    question: `Revoke ${key.prefix}…? Every request with it is refused from now on.`,
    label: "Confirm revoke",
    failure: "Could not revoke the key",
    act: async () => {
      await admin(`/keys/${encodeURIComponent(key.id)}/revoke`, { method: "POST" });
      status(`Key ${key.prefix}… is revoked.`, "ok");
    },
    after: loadKeys,
  });
}

// A small form in a key's row: its fields, a submit button and Cancel. ``submit`` returns false to
// keep the form open (nothing sent); whatever it sends, the key list is reloaded after.
function keyForm(cell, fields, submitLabel, failure, submit) {
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          if ((await submit()) === false) return;
        } catch (err) {
          failed(failure, err);
        }
        await loadKeys();
      },
    },
    ...fields,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "small primary" }, submitLabel),
      h("button", { type: "button", class: "small", onclick: renderKeys }, "Cancel")),
  );
  fill(cell, form);
  fields[0].focus();
}

function expiryForm(cell, key) {
  const choice = h(
    "select",
    { "aria-label": "New expiry" },
    h("option", { value: "1h" }, "in 1 hour"),
    h("option", { value: "24h" }, "in 24 hours"),
    h("option", { value: "7d" }, "in 7 days"),
    h("option", { value: "30d" }, "in 30 days"),
    h("option", { value: "date" }, "on a date…"),
    h("option", { value: "never" }, "never"),
  );
  const date = h("input", { type: "datetime-local", "aria-label": "Expiry date and time", hidden: true });
  choice.addEventListener("change", () => {
    date.hidden = choice.value !== "date";
  });
  keyForm(cell, [choice, date], "Save expiry", "Could not set the expiry", async () => {
    let body;
    if (choice.value === "never") body = { expires_at: null };
    else if (choice.value === "date") {
      if (!date.value) {
        date.focus();
        return false;
      }
      body = { expires_at: new Date(date.value).toISOString() };
    } else body = { expires_in: choice.value };
    await admin(`/keys/${encodeURIComponent(key.id)}`, { method: "PATCH", body });
    status(`Expiry of ${key.prefix}… updated.`, "ok");
  });
}

function rotateForm(cell, key) {
  const grace = h(
    "select",
    { "aria-label": "Grace period of the old key" },
    h("option", { value: "1h" }, "old key works 1 more hour"),
    h("option", { value: "24h", selected: true }, "old key works 24 more hours"),
    h("option", { value: "7d" }, "old key works 7 more days"),
    h("option", { value: "0s" }, "old key stops now"),
  );
  keyForm(cell, [grace], "Rotate now", "Could not rotate the key", async () => {
    const issued = await admin(`/keys/${encodeURIComponent(key.id)}/rotate`, {
      method: "POST",
      body: { grace: grace.value },
    });
    const until = issued.old && issued.old.expires_at ? formatTime(issued.old.expires_at) : "now";
    showNewKey(issued, `Rotated from ${key.prefix}…; the old key works until ${until}.`);
  });
}

function showNewKey(issued, note) {
  $("new-key-value").value = issued.key;
  $("new-key-note").textContent =
    `${note} Prefix ${issued.prefix}…, for ${(issued.apps || []).join(", ")}` +
    (issued.expires_at ? `, expires ${formatTime(issued.expires_at)}.` : ", no expiry.");
  $("copy-key").textContent = "Copy";
  $("new-key").hidden = false;
  $("new-key-value").focus();
  $("new-key-value").select();
}

function hideNewKey() {
  $("new-key-value").value = "";
  $("new-key").hidden = true;
}

async function issueKey(event) {
  event.preventDefault();
  const apps = [...$("issue-apps").querySelectorAll("input:checked")].map((i) => i.value);
  if (!apps.length) {
    status("Choose at least one App for the key.", "error");
    return;
  }
  const body = { apps };
  const label = $("issue-label").value.trim();
  if (label) body.label = label;
  if ($("issue-expiry").value) body.expires_in = $("issue-expiry").value;
  try {
    const issued = await admin("/keys", { method: "POST", body });
    showNewKey(issued, "Issued.");
    status(`Key ${issued.prefix}… issued.`, "ok");
    $("issue-label").value = "";
  } catch (err) {
    failed("Could not issue the key", err);
  }
  await loadKeys();
}

// ---------------------------------------------------------------- sessions

async function loadSessions(more) {
  if (!state.apps.length) await loadApps();
  const query = { q: $("sessions-q").value.trim(), app: $("sessions-app").value, limit: PAGE };
  if (more && state.sessionsNext) query.before = state.sessionsNext;
  const data = await admin("/sessions", { query });
  const rows = (data.sessions || []).map(sessionRow);
  if (more) $("sessions-rows").append(...rows);
  else fill($("sessions-rows"), rows);
  labelCells($("sessions-rows"));
  state.sessionsNext = data.next || null;
  $("sessions-more").hidden = !state.sessionsNext;
  $("sessions-empty").hidden = $("sessions-rows").children.length > 0;
}

function sessionRow(s) {
  const title = s.title || "New Chat";
  const name = () => h("span", { class: "visually-hidden" }, ` ${title}`);
  const actions = h("td", {});
  const row = h(
    "tr",
    { dataset: { sessionId: s.id } },
    h("td", {}, title, h("div", { class: "muted mono" }, shorten(s.id, 8, 4))),
    h("td", {}, s.app),
    h("td", { class: "mono" }, s.wallet ? shorten(s.wallet) : ""),
    h("td", {}, s.chain_id ?? ""),
    h("td", {}, h("span", { class: `badge ${s.status}` }, s.status), s.archived ? h("span", { class: "badge" }, "archived") : ""),
    h("td", {}, formatTime(s.updated_at)),
    actions,
  );
  actions.append(
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "small", onclick: () => openSession(s.id) }, "Open", name()),
      h("button", { type: "button", class: "small", onclick: () => exportSession(s.id) }, "Export", name()),
      h("button", { type: "button", class: "small danger", onclick: () => confirmDeleteSession(actions, s) }, "Delete", name()),
    ),
  );
  return row;
}

async function openSession(id) {
  const box = $("session-detail");
  try {
    const data = await admin(`/sessions/${encodeURIComponent(id)}`);
    const s = data.session;
    fill(
      box,
      h("div", { class: "row" },
        h("h2", { class: "grow" }, s.title || "New Chat"),
        h("button", { type: "button", class: "small", onclick: () => exportSession(s.id) }, "Export JSON"),
        h("button", { type: "button", class: "small", onclick: () => { box.hidden = true; } }, "Close")),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, "Session"), h("dd", { class: "mono" }, s.id),
        h("dt", {}, "App"), h("dd", {}, s.app),
        h("dt", {}, "Wallet"), h("dd", { class: "mono" }, s.wallet ? `${s.wallet} on chain ${s.chain_id}` : "none"),
        h("dt", {}, "Status"), h("dd", {}, `${s.status}${s.archived ? ", archived" : ""}`),
        h("dt", {}, "Created"), h("dd", {}, formatTime(s.created_at)),
        h("dt", {}, "Updated"), h("dd", {}, formatTime(s.updated_at)),
      ),
      h("h3", {}, `Messages (${data.messages.length})`),
      h("ol", { class: "transcript", "aria-label": "Messages" }, data.messages.map(transcriptItem)),
    );
    box.hidden = false;
    for (const row of $("sessions-rows").children) row.classList.toggle("selected", row.dataset.sessionId === id);
    box.scrollIntoView({ block: "nearest" });
  } catch (err) {
    failed("Could not open the session", err);
  }
}

function transcriptItem(m) {
  if (m.tool_result) {
    return h("li", {}, h("details", { class: "tool-card" },
      h("summary", {}, h("span", { class: "tool-label" }, "Tool call "), m.tool_result[0]),
      h("div", { class: "tool-body" }, h("pre", {}, m.tool_result[1]))));
  }
  const who = m.sender === "user" ? "User" : m.sender === "agent" ? "Assistant" : "System";
  return h("li", { class: `msg ${m.sender}` },
    h("div", { class: "who" }, `${who} · ${formatTime(m.timestamp)}`),
    h("div", { class: "body" }, m.content));
}

async function exportSession(id) {
  try {
    const response = await admin(`/sessions/${encodeURIComponent(id)}/export`, { raw: true });
    const blob = await response.blob();
    const disposition = response.headers.get("content-disposition") || "";
    const match = /filename="?([^";]+)"?/.exec(disposition);
    const url = URL.createObjectURL(new Blob([blob], { type: "application/json" }));
    const link = h("a", { href: url, download: match ? match[1] : `session-${id}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    status(`Exported session ${shorten(id, 8, 4)}.`, "ok");
  } catch (err) {
    failed("Could not export the session", err);
  }
}

function confirmDeleteSession(cell, s) {
  confirmInline(cell, {
    question: "Delete this session with its messages and events?",
    label: "Confirm delete",
    failure: "Could not delete the session",
    act: async () => {
      await admin(`/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
      status(`Session “${s.title || s.id}” deleted.`, "ok");
      const detail = $("session-detail");
      if (detail.textContent.includes(s.id)) detail.hidden = true;
    },
    after: () => loadSessions(false),
  });
}

// ---------------------------------------------------------------- usage

const RANGES = {
  "24h": { ms: 24 * 3600e3, bucket: "hour" },
  "7d": { ms: 7 * 86400e3, bucket: "day" },
  "30d": { ms: 30 * 86400e3, bucket: "day" },
  "90d": { ms: 90 * 86400e3, bucket: "day" },
};

async function loadUsage() {
  if (!state.apps.length) await loadApps();
  if (!state.keys.length) await loadKeys();
  const range = RANGES[$("usage-range").value] || RANGES["7d"];
  // `since` on a bucket boundary (UTC hour or day): each bar is then one whole hour or day,
  // however the server counts its buckets (from `since` or from the boundary).
  const step = range.bucket === "hour" ? 3600e3 : 86400e3;
  const until = new Date();
  const since = new Date(Math.floor((until.getTime() - range.ms) / step) * step + step);
  const data = await admin("/usage", {
    query: {
      since: since.toISOString(),
      until: until.toISOString(),
      bucket: range.bucket,
      app: $("usage-app").value,
      key: $("usage-key").value,
    },
  });
  const metric = $("usage-metric").value;
  drawChart(data, metric);
  renderTotals(data.totals || []);
}

/** Every bucket between since and until, with the series' figures (absent buckets are zero). */
function buckets(data) {
  const step = data.bucket === "hour" ? 3600e3 : 86400e3;
  const first = new Date(data.since).getTime();
  const count = Math.min(1000, Math.max(1, Math.ceil((new Date(data.until).getTime() - first) / step)));
  const items = Array.from({ length: count }, (_, i) => ({ start: first + i * step, point: null }));
  for (const point of data.series || []) {
    const index = Math.floor((new Date(point.start).getTime() - first) / step);
    if (index >= 0 && index < count) items[index].point = point;
  }
  return { step, items };
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (value <= factor * power) return factor * power;
  return 10 * power;
}

function drawChart(data, metric) {
  const { step, items } = buckets(data);
  const values = items.map(({ point }) => (point ? Number(point[metric]) || 0 : 0));
  const total = values.reduce((a, b) => a + b, 0);
  const width = 800;
  const height = 260;
  const pad = { left: 56, right: 12, top: 12, bottom: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...values));
  const slot = plotW / Math.max(1, items.length);
  const barW = Math.max(1, slot * 0.7);
  const label = metric.replace(/_/g, " ");
  const svgAttrs = (attrs) => ({ svg: true, ...attrs });
  const svg = h("svg", svgAttrs({
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "usage-chart-title",
    preserveAspectRatio: "none",
  }));
  svg.append(h("title", svgAttrs({ id: "usage-chart-title" }), `${label} per ${data.bucket}: ${total} in total`));
  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + plotH * (1 - fraction);
    svg.append(
      h("line", svgAttrs({ class: fraction === 0 ? "axis" : "grid", x1: pad.left, x2: width - pad.right, y1: y, y2: y })),
      h("text", svgAttrs({ x: pad.left - 6, y: y + 4, "text-anchor": "end" }), formatCount(max * fraction)),
    );
  }
  const labelEvery = Math.max(1, Math.ceil(items.length / 8));
  items.forEach(({ start }, i) => {
    const value = values[i];
    const x = pad.left + i * slot + (slot - barW) / 2;
    const barH = (value / max) * plotH;
    const when = formatBucket(start, step);
    const bar = h("rect", svgAttrs({ class: "bar", x, y: pad.top + plotH - barH, width: barW, height: Math.max(0, barH) }));
    bar.append(h("title", svgAttrs({}), `${when}: ${value} ${label}`));
    svg.append(bar);
    if (i % labelEvery === 0) {
      svg.append(h("text", svgAttrs({ x: x + barW / 2, y: height - pad.bottom + 16, "text-anchor": "middle" }), when));
    }
  });
  fill($("usage-chart"), svg);
  $("usage-caption").textContent =
    `${label}: ${total} in total from ${formatTime(data.since)} to ${formatTime(data.until)}, one bar per ${data.bucket}.`;
}

function formatBucket(ms, step) {
  const date = new Date(ms);
  return step < 86400e3
    ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function formatCount(value) {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return String(+value.toFixed(1));
}

function renderTotals(totals) {
  const key = (id) => {
    const found = state.keys.find((k) => k.id === id);
    return found ? keyName(found) : id ? shorten(id, 8, 4) : "no key";
  };
  fill(
    $("usage-rows"),
    totals.length
      ? totals.map((t) =>
          h("tr", {},
            h("td", {}, t.app),
            h("td", {}, key(t.key_id)),
            h("td", {}, `${t.model_label || ""}${t.provider ? ` (${t.provider})` : ""}`),
            h("td", {}, t.turns), h("td", {}, t.requests),
            h("td", {}, t.input_tokens), h("td", {}, t.output_tokens),
            h("td", {}, t.tool_calls), h("td", {}, t.errors),
            h("td", {}, `${((t.duration_ms || 0) / 1000).toFixed(1)} s`)))
      : h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No usage in this range.")),
  );
  labelCells($("usage-rows"));
}

// ---------------------------------------------------------------- wiring

function wire() {
  wireTabs();
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("admin-token").value.trim();
    $("admin-token").value = "";
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("issue-form").addEventListener("submit", issueKey);
  $("keys-refresh").addEventListener("click", () => loadKeys().catch((err) => failed("Could not load the keys", err)));
  $("copy-key").addEventListener("click", async () => {
    const ok = await copyText($("new-key-value").value, $("new-key-value"));
    $("copy-key").textContent = ok ? "Copied" : "Select and copy it by hand";
  });
  $("hide-key").addEventListener("click", hideNewKey);
  $("sessions-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadSessions(false).catch((err) => failed("Could not search the sessions", err));
  });
  $("sessions-more").addEventListener("click", () =>
    loadSessions(true).catch((err) => failed("Could not load more sessions", err)));
  $("usage-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadUsage().catch((err) => failed("Could not load the usage", err));
  });
  $("usage-metric").addEventListener("change", () => loadUsage().catch((err) => failed("Could not load the usage", err)));
}

wire();
if (state.token) signIn(state.token).finally(() => { document.body.dataset.ready = "true"; });
else {
  showLogin();
  document.body.dataset.ready = "true";
}
