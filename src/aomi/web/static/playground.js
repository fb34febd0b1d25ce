// The playground at `/`: pick an App and a model, set a wallet by hand, keep threads, chat.
// It speaks the public HTTP API the way the public TypeScript client does (SPEC 4).

import { h, fill, api, formatTime, shorten, formatWei, randomHex, say, describeError } from "./common.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 300;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

const store = {
  get: (name, fallback = "") => localStorage.getItem(`aomi.playground.${name}`) ?? fallback,
  set: (name, value) => localStorage.setItem(`aomi.playground.${name}`, value),
};

const state = {
  app: store.get("app", "default"),
  key: sessionStorage.getItem("aomi.playground.key") || "",
  address: store.get("address"),
  chainId: store.get("chain", "1"),
  sessionId: store.get("session") || crypto.randomUUID(),
  title: "New Chat",
  processing: false,
  pollTimer: null,
  /** The live-updates stream's AbortController (one stream at a time). */
  stream: null,
  threads: [],
  /** Wallet requests of this thread: "tx:1" -> {kind, id, payload, settled, note}. */
  wallet: new Map(),
  /** Message id -> its element, so re-renders update in place (open tool cards stay open). */
  rendered: new Map(),
};

// ---------------------------------------------------------------- requests

function keyHeaders() {
  return state.key ? { "AOMI-APP-KEY": state.key } : {};
}

function sessionHeaders() {
  return { "X-Session-Id": state.sessionId, ...keyHeaders() };
}

/** The wallet as the public client sends it: flat camelCase `{address, chainId, isConnected}`. */
function userState() {
  if (!state.address) return null;
  const chain = /^\d+$/.test(state.chainId) ? Number(state.chainId) : state.chainId || 1;
  return { address: state.address, chainId: chain, isConnected: true };
}

function userStateParam() {
  const us = userState();
  return us ? JSON.stringify(us) : undefined;
}

function showError(err) {
  const box = $("chat-errors");
  box.textContent = typeof err === "string" ? err : describeError(err);
  box.hidden = false;
}

function clearError() {
  $("chat-errors").hidden = true;
}

// ---------------------------------------------------------------- Apps and models

async function loadApps() {
  let names = ["default"];
  try {
    names = await api("/api/control/apps", { headers: keyHeaders() });
    say($("settings-status"), "");
  } catch (err) {
    say($("settings-status"), `Could not list the Apps: ${describeError(err)}`, "error");
  }
  if (!names.includes(state.app)) names = [...names, state.app];
  const select = $("app-select");
  fill(select, names.map((name) => h("option", { value: name, selected: name === state.app }, name)));
  await loadModels();
}

async function loadModels() {
  const select = $("model-select");
  try {
    const labels = await api("/api/control/models", {
      query: { app: state.app },
      headers: keyHeaders(),
    });
    const chosen = store.get(`model.${state.sessionId}`);
    fill(
      select,
      labels.map((label, i) =>
        h("option", { value: label, selected: chosen ? chosen === label : i === 0 }, label),
      ),
    );
    select.disabled = false;
  } catch (err) {
    fill(select, h("option", { value: "" }, "(needs a valid App key)"));
    select.disabled = true;
    say($("settings-status"), `Could not list the models of ${state.app}: ${describeError(err)}`, "error");
  }
  $("chat-app").textContent = `App: ${state.app}`;
}

async function setModel(label) {
  try {
    await api("/api/control/model", {
      method: "POST",
      query: { rig: label, app: state.app },
      headers: sessionHeaders(),
    });
    store.set(`model.${state.sessionId}`, label);
    say($("settings-status"), `Model set to ${label} for this thread.`, "ok");
  } catch (err) {
    say($("settings-status"), `Could not set the model: ${describeError(err)}`, "error");
  }
}

// ---------------------------------------------------------------- threads

async function loadThreads() {
  const list = $("threads");
  const hint = $("threads-hint");
  if (!state.address) {
    state.threads = [];
    fill(list);
    hint.textContent = "Set a wallet address to list its threads.";
    hint.hidden = false;
    return;
  }
  try {
    state.threads = await api("/api/sessions", {
      query: { public_key: state.address },
      headers: keyHeaders(),
    });
  } catch (err) {
    hint.textContent = `Could not list the threads: ${describeError(err)}`;
    hint.hidden = false;
    return;
  }
  hint.textContent = "No threads for this wallet yet.";
  hint.hidden = state.threads.length > 0;
  renderThreads();
}

function renderThreads() {
  fill($("threads"), state.threads.map(threadItem));
}

function threadItem(thread) {
  const current = thread.session_id === state.sessionId;
  const title = thread.title || "New Chat";
  const item = h("li", {
    class: `thread${current ? " current" : ""}${thread.is_archived ? " archived" : ""}`,
    dataset: { sessionId: thread.session_id },
  });
  const open = h(
    "button",
    { type: "button", class: "open", "aria-current": current ? "true" : undefined, onclick: () => openThread(thread) },
    h("span", { class: "thread-title" }, title),
    h(
      "span",
      { class: "meta" },
      `${thread.app} · ${formatTime(thread.updated_at)}${thread.is_archived ? " · archived" : ""}`,
    ),
  );
  const actions = h(
    "div",
    { class: "actions" },
    h("button", { type: "button", class: "small", onclick: () => startRename(item, thread) }, "Rename",
      h("span", { class: "visually-hidden" }, ` ${title}`)),
    h(
      "button",
      { type: "button", class: "small", onclick: () => setArchived(thread, !thread.is_archived) },
      thread.is_archived ? "Unarchive" : "Archive",
      h("span", { class: "visually-hidden" }, ` ${title}`),
    ),
    h("button", { type: "button", class: "small danger", onclick: () => confirmDelete(item, thread) }, "Delete",
      h("span", { class: "visually-hidden" }, ` ${title}`)),
  );
  item.append(open, actions);
  return item;
}

function startRename(item, thread) {
  const input = h("input", {
    value: thread.title || "",
    maxlength: 200,
    "aria-label": "New title",
    class: "grow",
  });
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (event) => {
        event.preventDefault();
        const title = input.value.trim();
        if (!title) return;
        try {
          await api(`/api/sessions/${thread.session_id}`, {
            method: "PATCH",
            body: { title },
            headers: keyHeaders(),
          });
          if (thread.session_id === state.sessionId) setTitle(title);
        } catch (err) {
          showError(err);
        }
        await loadThreads();
      },
    },
    input,
    h("button", { type: "submit", class: "small primary" }, "Save"),
    h("button", { type: "button", class: "small", onclick: renderThreads }, "Cancel"),
  );
  fill(item, form);
  input.focus();
  input.select();
}

function confirmDelete(item, thread) {
  const yes = h("button", {
    type: "button",
    class: "small danger primary",
    onclick: async () => {
      try {
        await api(`/api/sessions/${thread.session_id}`, { method: "DELETE", headers: keyHeaders() });
        if (thread.session_id === state.sessionId) freshThread();
      } catch (err) {
        showError(err);
      }
      await loadThreads();
    },
  }, "Delete for good");
  fill(
    item,
    h("p", { class: "muted" }, `Delete “${thread.title || "New Chat"}” with all its messages?`),
    h("div", { class: "row" }, yes, h("button", { type: "button", class: "small", onclick: renderThreads }, "Cancel")),
  );
  yes.focus();
}

async function setArchived(thread, archived) {
  try {
    await api(`/api/sessions/${thread.session_id}/${archived ? "archive" : "unarchive"}`, {
      method: "POST",
      headers: keyHeaders(),
    });
  } catch (err) {
    showError(err);
  }
  await loadThreads();
}

/** Switch to a thread: its App, its messages, its event stream. */
async function openThread(thread) {
  switchSession(thread.session_id);
  setTitle(thread.title || "New Chat");
  if (thread.app !== state.app) {
    state.app = thread.app;
    store.set("app", state.app);
    await loadApps();
  } else {
    await loadModels();
  }
  renderThreads();
  await fetchState();
  $("composer-input").focus();
}

/** A new session id (the thread exists on the server from its first message). */
function freshThread() {
  switchSession(crypto.randomUUID());
  setTitle("New Chat");
  renderThreads();
}

async function newThread() {
  freshThread();
  try {
    await api("/api/sessions", {
      method: "POST",
      body: { app: state.app, ...(state.address ? { public_key: state.address } : {}) },
      headers: sessionHeaders(),
    });
  } catch (err) {
    showError(err);
  }
  await loadThreads();
  await loadModels();
  $("composer-input").focus();
}

function switchSession(id) {
  state.sessionId = id;
  store.set("session", id);
  state.wallet.clear();
  state.rendered.clear();
  fill($("messages"));
  state.processing = false;
  stopPolling();
  clearError();
  renderMessages([]);
  renderWallet();
  setStatus("idle");
  subscribe();
}

// ---------------------------------------------------------------- conversation

function setTitle(title) {
  state.title = title || "New Chat";
  $("chat-title").textContent = state.title;
  document.title = `${state.title} · Aomi playground`;
}

function setStatus(status) {
  const badge = $("chat-status");
  badge.textContent = status;
  badge.className = `badge ${status}`;
  $("stop").hidden = !state.processing;
  $("send").disabled = state.processing;
}

async function send(text) {
  if (state.processing) return;
  const sid = state.sessionId;
  clearError();
  for (const [key, req] of state.wallet) if (req.settled) state.wallet.delete(key);
  try {
    const snapshot = await api("/api/chat", {
      method: "POST",
      query: {
        message: text,
        app: state.app,
        public_key: state.address || undefined,
        user_state: userStateParam(),
      },
      headers: sessionHeaders(),
    });
    if (sid !== state.sessionId) return;
    applySnapshot(snapshot);
    $("composer-input").value = "";
  } catch (err) {
    showError(err);
    return;
  }
  await loadThreads();
}

async function interrupt() {
  try {
    applySnapshot(await api("/api/interrupt", { method: "POST", headers: sessionHeaders() }));
  } catch (err) {
    showError(err);
  }
}

async function fetchState() {
  const sid = state.sessionId;
  try {
    const snapshot = await api("/api/state", {
      query: { user_state: userStateParam() },
      headers: sessionHeaders(),
    });
    if (sid === state.sessionId) applySnapshot(snapshot);
  } catch (err) {
    if (sid === state.sessionId) showError(err);
    stopPolling();
  }
}

function startPolling() {
  if (state.pollTimer) return;
  state.pollTimer = setTimeout(async () => {
    state.pollTimer = null;
    await fetchState();
  }, POLL_MS);
}

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function applySnapshot(snapshot) {
  if (snapshot.title) setTitle(snapshot.title);
  state.processing = Boolean(snapshot.is_processing);
  setStatus(snapshot.status || (state.processing ? "processing" : "idle"));
  renderMessages(snapshot.messages || []);
  for (const event of snapshot.system_events || []) takeEvent(event);
  takePending(snapshot.user_state);
  renderWallet();
  if (state.processing) startPolling();
  else stopPolling();
}

function takeEvent(event) {
  if (event.InlineCall) {
    const call = event.InlineCall;
    const payload = call.payload || {};
    if (call.type === "wallet_tx_request") {
      for (const id of payload.tx_ids || []) addWalletRequest("tx", id, payload);
    } else if (call.type === "wallet_eip712_request") {
      addWalletRequest("eip712", payload.pending_eip712_id, payload);
    }
  } else if (event.SystemError) {
    showError(String(event.SystemError));
  }
}

function addWalletRequest(kind, id, payload) {
  const key = `${kind}:${id}`;
  if (!state.wallet.has(key)) state.wallet.set(key, { kind, id, payload, settled: null, note: "" });
}

/** `user_state.pending_txs` / `pending_eip712s` are the server's own list of waiting requests. */
function takePending(us) {
  const pending = new Set();
  for (const [id, entry] of Object.entries((us && us.pending_txs) || {})) {
    addWalletRequest("tx", Number(id), entry);
    pending.add(`tx:${id}`);
  }
  for (const [id, entry] of Object.entries((us && us.pending_eip712s) || {})) {
    addWalletRequest("eip712", Number(id), entry);
    pending.add(`eip712:${id}`);
  }
  for (const [key, req] of state.wallet) {
    // One answered here stays, with its outcome, until the next message is sent.
    if (!pending.has(key) && !req.settled) state.wallet.delete(key);
  }
}

// ---------------------------------------------------------------- rendering messages

function renderMessages(messages) {
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const seen = new Set();
  let added = false;
  let previous = null;
  messages.forEach((message, index) => {
    const id = message.id || `index-${index}`;
    seen.add(id);
    let node = state.rendered.get(id);
    if (node) updateMessage(node, message);
    else {
      node = messageNode(message);
      state.rendered.set(id, node);
      added = true;
    }
    const expected = previous ? previous.nextElementSibling : list.firstElementChild;
    if (expected !== node) {
      if (previous) previous.after(node);
      else list.prepend(node);
    }
    previous = node;
  });
  for (const [id, node] of state.rendered) {
    if (!seen.has(id)) {
      node.remove();
      state.rendered.delete(id);
    }
  }
  const empty = $("empty-chat");
  if (messages.length === 0 && !empty) {
    list.append(h("li", { id: "empty-chat", class: "empty-chat" },
      "Say hello, or try “what is the price of ETH?” or “send 0.01 ETH to 0x…”."));
  } else if (messages.length > 0 && empty) {
    empty.remove();
  }
  if (nearBottom || added) list.scrollTop = list.scrollHeight;
}

function messageNode(message) {
  const node = h("li", { dataset: { sender: message.sender } });
  updateMessage(node, message);
  return node;
}

/** Fill or refresh a message's element; a tool card keeps its open/closed state. */
function updateMessage(node, message) {
  const signature = JSON.stringify([message.content, message.tool_result, message.is_streaming]);
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  if (message.tool_result) {
    const [topic, result] = message.tool_result;
    let details = node.querySelector("details");
    if (!details) {
      node.className = "tool";
      details = h(
        "details",
        { class: "tool-card" },
        h("summary", {}, h("span", { class: "tool-label" }, "Tool call "), h("span", { class: "topic" })),
        h("div", { class: "tool-body" }, h("pre", { class: "result" })),
      );
      fill(node, details);
    }
    details.querySelector(".topic").textContent = topic;
    details.querySelector(".result").textContent = result;
    return;
  }
  const sender = message.sender;
  node.className = `msg ${sender}${message.is_streaming ? " streaming" : ""}`;
  const who = sender === "user" ? "You" : sender === "agent" ? "Assistant" : "System";
  fill(node, h("div", { class: "who" }, who), h("div", { class: "body" }, describeContent(message)));
}

/** A wallet callback echoed as a system message, in words; other text as it is. */
function describeContent(message) {
  if (message.sender !== "system") return message.content;
  try {
    const value = JSON.parse(message.content);
    const payload = (value && value.payload) || {};
    if (value.type === "wallet:tx_complete" || value.type === "wallet_tx_response") {
      return payload.status === "success"
        ? `Wallet: transaction approved (tx ${shorten(payload.txHash, 10, 6)}).`
        : "Wallet: transaction rejected.";
    }
    if (value.type === "wallet_eip712_response") {
      return payload.status === "success" ? "Wallet: signature approved." : "Wallet: signature rejected.";
    }
  } catch {
    // plain text
  }
  return message.content;
}

// ---------------------------------------------------------------- wallet requests

function renderWallet() {
  const box = $("wallet-requests");
  fill(box, [...state.wallet.values()].map(walletCard));
}

function walletCard(req) {
  const p = req.payload || {};
  const isTx = req.kind === "tx";
  const heading = isTx ? `Wallet request ${req.id}: send a transaction` : `Wallet request ${req.id}: sign typed data`;
  const rows = isTx
    ? [
        ["What", p.description || p.label || ""],
        ["To", p.to],
        ["Value", p.value !== undefined ? `${formatWei(p.value)} ETH (${p.value} wei)` : ""],
        ["Chain", p.chain_id],
        ["From", p.from],
        ...(p.data && p.data !== "0x" ? [["Data", shorten(p.data, 18, 8)]] : []),
      ]
    : [
        ["What", p.description || ""],
        ["Type", (p.typed_data && p.typed_data.primaryType) || ""],
        ["Chain", p.chain_id],
        ["From", p.from],
      ];
  const card = h(
    "article",
    {
      class: `wallet-card${req.settled ? ` settled-${req.settled}` : ""}`,
      "aria-label": heading,
      dataset: { kind: req.kind, requestId: String(req.id) },
    },
    h("h3", {}, heading),
    h("dl", {}, rows.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
  );
  if (!isTx && p.typed_data) {
    card.append(h("details", {}, h("summary", {}, "Typed data"), h("pre", {}, JSON.stringify(p.typed_data, null, 2))));
  }
  if (req.settled) {
    card.append(h("p", { class: "status", role: "status" }, req.note));
    return card;
  }
  card.append(
    h("p", { class: "muted" }, isTx
      ? "No wallet is connected to this page: Approve answers with a made-up transaction hash."
      : "No wallet is connected to this page: Approve answers with a made-up signature."),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "primary", onclick: () => answerWallet(req, true) }, "Approve"),
      h("button", { type: "button", class: "danger", onclick: () => answerWallet(req, false) }, "Reject"),
    ),
  );
  return card;
}

/** The callback the public client posts to /api/system (ClientSession.resolve / reject), with the
 * request's id so the server settles exactly this one. */
function walletAnswer(req, approve) {
  if (req.kind === "tx") {
    return {
      type: "wallet:tx_complete",
      payload: approve
        ? { txHash: randomHex(32), status: "success", pending_tx_ids: [req.id] }
        : { txHash: "", status: "failed", pending_tx_ids: [req.id] },
    };
  }
  const description = (req.payload && req.payload.description) || "";
  return {
    type: "wallet_eip712_response",
    payload: approve
      ? { status: "success", signature: randomHex(65), description, pending_eip712_id: req.id }
      : { status: "failed", error: "Request rejected", description, pending_eip712_id: req.id },
  };
}

async function answerWallet(req, approve) {
  const answer = walletAnswer(req, approve);
  try {
    await api("/api/system", {
      method: "POST",
      query: { message: JSON.stringify(answer) },
      headers: sessionHeaders(),
    });
  } catch (err) {
    showError(err);
    return;
  }
  req.settled = approve ? "success" : "failed";
  if (!approve) req.note = "Rejected: the wallet answered that the user declined.";
  else if (req.kind === "tx") req.note = `Approved: answered with transaction hash ${shorten(answer.payload.txHash, 10, 6)}.`;
  else req.note = "Approved: answered with a signature.";
  renderWallet();
  $("composer-input").focus(); // the answered card's buttons are gone
  state.processing = true;
  startPolling();
}

// ---------------------------------------------------------------- live updates

// Read with fetch, not EventSource: EventSource cannot send headers, and with
// AOMI_SESSION_ACCESS=key a keyed App's stream needs the App key. A dropped stream is opened again
// (backing off up to 10 s) with Last-Event-ID, so nothing is missed in between.

function subscribe() {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  follow(state.sessionId, controller.signal);
}

async function follow(sessionId, signal) {
  const badge = $("connection");
  let lastId = null;
  let delay = 500;
  while (!signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream", "X-Session-Id": sessionId, ...keyHeaders() };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const response = await fetch("/api/updates", { headers, signal, cache: "no-store" });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      badge.textContent = "live";
      badge.className = "badge ok";
      delay = 500;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.search(/(\r\n|\r|\n){2}/)) >= 0) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end).replace(/^(\r\n|\r|\n){2}/, "");
          if (frame.id !== null) lastId = frame.id;
          if (frame.data !== null) onUpdate(frame.data);
        }
      }
    } catch {
      // a refused or dropped stream: shown below, then opened again
    }
    if (signal.aborted) return;
    badge.textContent = "reconnecting…";
    badge.className = "badge warn";
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

/** One SSE frame: its `id:` and its `data:` lines joined (null when absent); comments dropped. */
function parseFrame(text) {
  let id = null;
  const data = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.startsWith("id:")) id = line.slice(3).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { id, data: data.length ? data.join("\n") : null };
}

function onUpdate(raw) {
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return;
  }
  if (data.session_id && data.session_id !== state.sessionId) return;
  if (data.type === "title_changed") {
    setTitle(data.new_title);
    loadThreads();
  } else if (data.type === "system_notice") {
    say($("settings-status"), data.message, "");
  } else if (data.type === "turn_finished") {
    fetchState();
    loadThreads();
    return;
  }
  if (data.type === "turn_started") {
    state.processing = true;
    setStatus("processing");
  }
  startPolling();
}

// ---------------------------------------------------------------- wiring

function applyWalletForm() {
  const address = $("wallet-address").value.trim();
  const chain = $("chain-id").value.trim() || "1";
  if (address && !ADDRESS.test(address)) {
    say($("settings-status"), "The wallet address must be 0x followed by 40 hex digits.", "error");
    $("wallet-address").focus();
    return false;
  }
  if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(chain)) {
    say($("settings-status"), "The chain id must be a number (e.g. 1, 8453) or hex (0x1).", "error");
    $("chain-id").focus();
    return false;
  }
  state.address = address;
  state.chainId = chain;
  store.set("address", address);
  store.set("chain", chain);
  say($("settings-status"), address ? `Wallet ${shorten(address)} on chain ${chain}.` : "No wallet set.", "ok");
  return true;
}

function wire() {
  $("app-select").addEventListener("change", async (event) => {
    state.app = event.target.value;
    store.set("app", state.app);
    freshThread(); // a thread belongs to one App
    await loadModels();
  });
  $("app-key-apply").addEventListener("click", async () => {
    state.key = $("app-key").value.trim();
    sessionStorage.setItem("aomi.playground.key", state.key);
    subscribe(); // the stream carries the key too
    await loadApps();
    await loadThreads();
  });
  $("app-key").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      $("app-key-apply").click();
    }
  });
  $("model-select").addEventListener("change", (event) => setModel(event.target.value));
  $("settings").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!applyWalletForm()) return;
    await loadThreads();
    await fetchState();
  });
  $("new-thread").addEventListener("click", newThread);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("composer-input").value.trim();
    if (text) send(text);
  });
  $("composer-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", interrupt);
  const sidebar = $("sidebar");
  const toggle = $("sidebar-toggle");
  toggle.addEventListener("click", () => {
    const collapsed = sidebar.classList.toggle("collapsed");
    toggle.setAttribute("aria-expanded", String(!collapsed));
  });
  if (window.matchMedia("(max-width: 760px)").matches) {
    sidebar.classList.add("collapsed");
    toggle.setAttribute("aria-expanded", "false");
  }
}

async function start() {
  $("wallet-address").value = state.address;
  $("chain-id").value = state.chainId;
  $("app-key").value = state.key;
  store.set("session", state.sessionId);
  wire();
  renderMessages([]);
  setTitle("New Chat");
  subscribe();
  await loadApps();
  await loadThreads();
  await fetchState();
  document.body.dataset.ready = "true";
}

start();
