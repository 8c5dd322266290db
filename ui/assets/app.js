"use strict";

// aadproxy's inspector page: the flow list, a flow's detail, sign-ins and
// findings, fed by the JSON API in docs/api.md. Every captured value is
// attacker-controlled, so the page builds its DOM with createElement and
// textContent only, never innerHTML.

// ROW_H must match --row-h in app.css: the list is virtualised on it.
const ROW_H = 22;
// OVERSCAN rows above and below the viewport keep fast scrolling smooth.
const OVERSCAN = 12;
const FILTER_DELAY = 250;
// REMATCH_EVERY limits re-running an active filter while flows stream in.
const REMATCH_EVERY = 500;
const STATUS_EVERY = 1000;
const VIEW_REFRESH_EVERY = 1000;
// MAX_PENDING bounds the events a hidden tab (no animation frames) queues;
// beyond it the tab starts over from /api/flows instead of growing.
const MAX_PENDING = 20000;
const VALUE_PREVIEW = 80;
const MAX_SIGNINS = 200;
const MAX_FINDINGS = 1000;
const STEP_PATH = 30; // characters of a path a sign-in step shows
const SEV_RANK = { error: 3, warning: 2, info: 1 };
const PHASES = ["dns", "connect", "tls", "send", "wait", "receive"];

const state = {
  status: null,
  flows: new Map(), // id -> summary; never bodies
  order: [], // ids, oldest first
  matchIds: null, // the active filter's ids, or null without a filter
  shown: [], // what the list shows: order, or matchIds still held
  filter: "", // the filter the list and the export use
  selected: -1,
  follow: true,
  view: "flows",
  tab: "overview",
  detail: null, // the open flow in full
  loading: false,
  live: "connecting", // the live channel: "connecting", "live" or "lost"
  transactions: [],
  findings: [],
  findingsSort: null, // {key, dir} or null for the server's order
};

// ---------- small helpers ----------

const $ = (sel, root = document) => root.querySelector(sel);

// el builds an element; children may be nodes, strings (always text) or
// nested arrays. Props: class, text, dataset, on<event>, else attributes.
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// nodes flattens renderer output into what replaceChildren accepts.
function nodes(x) {
  return [x].flat(Infinity).filter((c) => c != null && c !== false && c !== "");
}

function pad(n, w = 2) {
  return String(n).padStart(w, "0");
}

function fmtClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function fmtDateTime(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return iso || "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtClock(iso)}`;
}

// fmtInt groups thousands with a space, as in "1 234 flows".
function fmtInt(n) {
  return String(Math.trunc(n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

function plural(n, one, many = one + "s") {
  return `${fmtInt(n)} ${n === 1 ? one : many}`;
}

function fmtMs(ms) {
  if (ms == null || ms < 0) return "";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function fmtBytes(n) {
  if (n == null || n < 0) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function statusClass(code) {
  if (!code) return "";
  if (code >= 400) return "st-bad";
  if (code >= 300) return "st-redirect";
  return "st-ok";
}

function isBad(s) {
  return s.status >= 400 || Boolean(s.error);
}

function aadsts(code) {
  return code ? `AADSTS${code}` : "";
}

// lowerBound finds where id belongs in an ascending array of ids.
function lowerBound(arr, id) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// throttle runs fn at most once per `ms`, trailing, so bursts collapse.
function throttle(fn, ms) {
  let timer = 0;
  return () => {
    if (!timer) timer = setTimeout(() => { timer = 0; fn(); }, ms);
  };
}

function debounce(fn, ms) {
  let timer = 0;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

// ---------- API ----------

class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...opts });
  if (res.status === 401) {
    $("#auth").hidden = false;
    throw new ApiError(401, "this page needs the link with ?token=… that aadproxy printed", {});
  }
  if (!res.ok) {
    let body = {};
    try {
      body = await res.json();
    } catch {
      // Not an API error object: the status line says enough.
    }
    throw new ApiError(res.status, (body && body.error) || `${res.status} ${res.statusText}`, body || {});
  }
  return res;
}

async function getJSON(path) {
  return (await api(path)).json();
}

function post(path, opts = {}) {
  return api(path, { method: "POST", ...opts });
}

// download saves a server-made file (the cookie authenticates the request).
function download(url) {
  const a = el("a", { href: url, download: "" });
  document.body.append(a);
  a.click();
  a.remove();
}

let toastTimer = 0;
function toast(message, kind = "") {
  const t = $("#toast");
  t.textContent = message;
  t.className = kind;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === "error" ? 8000 : 4000);
}

// ---------- status and counts ----------

function setStatus(s) {
  if (!s) return;
  state.status = s;
  renderStatus();
}

const refreshStatus = throttle(async () => {
  try {
    setStatus(await getJSON("api/status"));
  } catch {
    // The live channel's error handling reports a server that went away.
  }
}, STATUS_EVERY);

function renderStatus() {
  const s = state.status;
  if (!s) return;
  const file = s.mode === "file";
  const paused = Boolean(s.paused) && !file;
  document.body.classList.toggle("paused", paused);
  const live = state.live === "live";
  const dot = el("span", { class: live ? "dot" : "dot off", title: live ? "live" : "not connected to aadproxy" });
  let text;
  if (file) text = `File ${s.source || ""}`;
  else {
    text = `Proxy http://${s.proxy}`;
    text += s.recording ? ` · recording to ${s.recording}` : " · not recording";
  }
  $("#status").replaceChildren(
    dot,
    paused ? el("span", { class: "paused", text: "Paused — traffic is relayed but not captured" }) : "",
    paused ? " · " : "",
    text,
    live ? "" : state.live === "lost" ? " · reconnecting…" : " · connecting…",
  );
  $("#status").title = `${text}${s.version ? ` · aadproxy ${s.version}` : ""}` +
    (s.dropped ? ` · ${fmtInt(s.dropped)} flows dropped before reaching this page` : "");
  const pause = $("#pause");
  pause.disabled = file;
  pause.textContent = paused ? "Resume" : "Pause";
  pause.classList.toggle("resume", paused);
  renderCount();
}

function renderCount() {
  const s = state.status || {};
  const parts = [plural(state.order.length, "flow")];
  const errs = s.errors || 0;
  const warns = s.warnings || 0;
  parts.push(el("span", { class: errs ? "err" : "", text: plural(errs, "error") }));
  parts.push(el("span", { class: warns ? "warn" : "", text: plural(warns, "warning") }));
  if (s.evicted > 0) parts.push(`${plural(s.evicted, "older flow")} left memory`);
  $("#count").replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
  const total = errs + warns + (s.infos || 0);
  const n = $("#findings-n");
  n.textContent = total ? fmtInt(total) : "";
  n.className = errs ? "n err" : "n";
}

// ---------- the flow store and the live channel ----------

let source = null;
let pending = [];
let flushQueued = false;
let loadSeq = 0;

// upsert stores a summary; a flow not held yet goes to its place by id,
// so duplicates from a reload racing the live channel are harmless.
function upsert(s) {
  const had = state.flows.has(s.id);
  state.flows.set(s.id, s);
  if (had) return;
  const o = state.order;
  if (!o.length || s.id > o[o.length - 1]) o.push(s.id);
  else o.splice(lowerBound(o, s.id), 0, s.id);
}

function refreshShown() {
  state.shown = state.matchIds ? state.matchIds.filter((id) => state.flows.has(id)) : state.order;
}

function connect() {
  source = new EventSource("api/events");
  source.onmessage = (e) => {
    let ev;
    try {
      ev = JSON.parse(e.data);
    } catch {
      return; // not ours to show
    }
    queueEvent(ev);
  };
  source.onerror = () => {
    setLive("lost");
    // EventSource retries by itself unless the server refused it (a 401 or
    // a non-stream answer); then check why and start a new one later.
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      refreshStatus();
      setTimeout(connect, 3000);
    }
  };
}

function setLive(live) {
  if (state.live === live) return;
  state.live = live;
  renderStatus();
}

function queueEvent(ev) {
  if (pending.length >= MAX_PENDING) pending = [{ type: "resync" }];
  else pending.push(ev);
  if (!flushQueued) {
    flushQueued = true;
    requestAnimationFrame(flush);
  }
}

// flush applies the queued events once per animation frame, so thousands of
// events a second cost one list render each frame.
function flush() {
  flushQueued = false;
  if (state.loading) return; // the load's end flushes what waited
  const batch = pending;
  pending = [];
  const fx = { list: false, removed: false, selected: false, txn: false, findings: false };
  for (let i = 0; i < batch.length; i++) {
    const ev = batch[i];
    if (ev.type === "hello" || ev.type === "resync") {
      // A (re)connection or lost events: what we hold may be stale.
      if (ev.status) setStatus(ev.status);
      setLive("live");
      pending = batch.slice(i + 1).concat(pending);
      reload();
      return;
    }
    applyEvent(ev, fx);
  }
  if (fx.removed) {
    const anchor = state.shown[firstVisible()];
    state.order = state.order.filter((id) => state.flows.has(id));
    refreshShown();
    keepAnchor(anchor);
  } else if (fx.list) refreshShown();
  if (fx.list) {
    renderList();
    renderCount();
    refreshStatus();
  }
  // New flows and changed summaries (a later finding) may match the filter.
  if (fx.list && state.matchIds) rematch();
  if (fx.selected) reloadDetail();
  if (fx.txn && state.view === "signins") refreshSignins();
  if (fx.findings && state.view === "findings") refreshFindings();
}

function applyEvent(ev, fx) {
  switch (ev.type) {
    case "add":
    case "update":
      if (!ev.flow) return;
      upsert(ev.flow);
      fx.list = true;
      fx.selected ||= ev.flow.id === state.selected && ev.type === "update";
      fx.findings ||= Boolean(ev.flow.sev);
      return;
    case "remove":
      for (const id of ev.ids || []) state.flows.delete(id);
      fx.list = fx.removed = true;
      return;
    case "clear":
      clearStore();
      fx.list = fx.txn = fx.findings = true;
      return;
    case "status":
      setStatus(ev.status);
      return;
    case "txn":
      fx.txn = true;
      return;
    case "notice":
      if (ev.notice) showNotice(ev.notice);
      return;
    default:
      // An event type this page does not know yet: nothing to do.
  }
}

function showNotice(n) {
  const text = [n.host, n.message].filter(Boolean).join(": ") + (n.hint ? ` — ${n.hint}` : "");
  toast(text, n.level === "warning" ? "warning" : "");
}

function clearStore() {
  state.flows.clear();
  state.order = [];
  state.matchIds = state.matchIds && [];
  state.shown = state.matchIds || state.order;
}

// reload replaces the store with /api/flows; live events that arrive
// meanwhile wait in `pending` and apply after it.
async function reload() {
  const seq = ++loadSeq;
  state.loading = true;
  renderEmpty();
  try {
    const data = await getJSON("api/flows");
    if (seq !== loadSeq) return;
    state.flows = new Map();
    state.order = [];
    for (const s of data.flows || []) upsert(s);
    if (state.status && data.evicted != null) state.status.evicted = data.evicted;
  } catch (e) {
    if (seq === loadSeq && e.status !== 401) toast(`Could not load the flows: ${e.message}`, "error");
  } finally {
    if (seq === loadSeq) {
      state.loading = false;
      refreshShown();
      renderList();
      renderCount();
      if (state.filter) rematch();
      if (pending.length) flush();
    }
  }
}

// ---------- the flow list (virtualised) ----------

const list = { pool: [], ownTop: -1 };

function firstVisible() {
  return Math.floor(list.scroller.scrollTop / ROW_H);
}

// scrollListTo scrolls for the page's own reasons. The scroll event it
// causes may come after the user changed Follow, so onListScroll must not
// read it as the user scrolling.
function scrollListTo(top) {
  const sc = list.scroller;
  const before = sc.scrollTop;
  sc.scrollTop = top;
  if (sc.scrollTop !== before) list.ownTop = sc.scrollTop;
}

// keepAnchor keeps the rows the user looks at in place when older flows
// leave above them.
function keepAnchor(anchorId) {
  if (state.follow || anchorId == null) return;
  const was = firstVisible();
  const now = lowerBound(state.shown, anchorId);
  if (now !== was) scrollListTo(list.scroller.scrollTop - (was - now) * ROW_H);
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderList();
  });
}

function makeRow() {
  const classes = ["c-time", "c-method", "c-host", "c-path", "c-status num", "c-ms num", "c-size num", "c-txn", "c-mark"];
  return el("div", { class: "row cols", role: "row" }, classes.map((c) => el("span", { class: c, role: "gridcell" })));
}

function renderList() {
  const n = state.shown.length;
  const sc = list.scroller;
  list.spacer.style.height = `${n * ROW_H}px`;
  if (state.follow) scrollListTo(sc.scrollHeight);
  const viewRows = Math.ceil((sc.clientHeight - list.head.offsetHeight) / ROW_H) + 1;
  const first = Math.max(0, firstVisible() - OVERSCAN);
  const count = Math.max(0, Math.min(n - first, viewRows + 2 * OVERSCAN));
  while (list.pool.length < count) {
    const row = makeRow();
    list.pool.push(row);
    list.rows.append(row);
  }
  list.rows.style.transform = `translateY(${first * ROW_H}px)`;
  list.pool.forEach((row, j) => {
    const s = j < count ? state.flows.get(state.shown[first + j]) : null;
    row.hidden = !s;
    if (s) fillRow(row, s);
  });
  $("#match-count").textContent = state.matchIds ? `${fmtInt(n)} shown` : "";
  renderEmpty();
}

// fillRow writes a summary into a pooled row, skipping rows that show the
// same summary object (updates replace the object) and selection.
function fillRow(row, s) {
  const selected = s.id === state.selected;
  if (row.summary === s && row.isSelected === selected) return;
  row.summary = s;
  row.isSelected = selected;
  row.dataset.id = s.id;
  row.dataset.sev = s.sev || "";
  row.className = `row cols${isBad(s) ? " bad" : ""}${s.gone ? " gone" : ""}${selected ? " selected" : ""}`;
  row.setAttribute("aria-selected", String(selected));
  const c = row.children;
  c[0].textContent = fmtClock(s.time);
  c[1].textContent = s.method;
  c[2].textContent = s.host;
  c[3].textContent = s.path;
  c[3].title = s.path;
  c[4].textContent = s.status ? String(s.status) : s.error ? "ERR" : "…";
  c[4].className = `c-status num ${s.status ? statusClass(s.status) : s.error ? "st-bad" : ""}`;
  c[5].textContent = fmtMs(s.ms);
  c[6].textContent = fmtBytes(s.size);
  c[7].textContent = s.txn > 0 ? `#${s.txn - 1}` : "";
  const mark = s.mark || s.error || "";
  c[8].textContent = mark;
  c[8].title = mark;
  c[8].className = `c-mark${s.sev ? ` sev-${s.sev}` : s.error ? " sev-error" : ""}`;
}

function renderEmpty() {
  const box = $("#flows-empty");
  const s = state.status || {};
  box.hidden = state.shown.length > 0;
  let kind = "help";
  if (box.hidden) kind = "";
  else if (state.loading && !state.order.length) kind = "loading";
  else if (state.order.length) kind = "nomatch";
  else if (s.mode === "file") kind = "file";
  // The list renders every frame while flows stream: rebuild only on change.
  const key = `${kind} ${s.proxy} ${s.paused}`;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  if (kind === "loading") box.replaceChildren("Loading flows…");
  else if (kind === "nomatch") box.replaceChildren("No flow matches the filter.");
  else if (kind === "file") box.replaceChildren(`${s.source || "This file"} holds no flows.`);
  else if (kind === "help") box.replaceChildren(...nodes(emptyHelp(s.proxy || "127.0.0.1:8080")));
}

function emptyHelp(proxy) {
  const url = `http://${proxy}`;
  return [
    el("strong", { text: `No flows yet. Point a client at ${url}` }),
    " and trust the aadproxy CA (aadproxy ca show says how):",
    el("pre", {}, `export HTTPS_PROXY=${url} HTTP_PROXY=${url}\n`,
      `chromium --proxy-server=${url} --ignore-certificate-errors-spki-list=<hash aadproxy printed>`),
    state.status && state.status.paused ? el("p", { class: "note warn", text: "Capturing is paused: press Resume to see new flows." }) : "",
    "Or drop a .har or .saz file on this window to analyse it.",
  ];
}

function setFollow(on) {
  state.follow = on;
  $("#follow").checked = on;
}

function onListScroll() {
  const sc = list.scroller;
  // Scrolling up stops following; reaching the bottom starts it again.
  const atBottom = sc.scrollTop + sc.clientHeight >= sc.scrollHeight - ROW_H / 2;
  const own = sc.scrollTop === list.ownTop;
  list.ownTop = -1;
  if (!own && atBottom !== state.follow) setFollow(atBottom);
  scheduleRender();
}

function indexOfSelected() {
  return state.selected < 0 ? -1 : state.shown.indexOf(state.selected);
}

function select(id, open) {
  state.selected = id;
  // Inspecting a row stops following, or new flows would scroll it away.
  if (state.follow && state.shown[state.shown.length - 1] !== id) setFollow(false);
  renderList();
  if (open) loadDetail(id);
}

// reveal scrolls row i into view, below the sticky header.
function reveal(i) {
  const sc = list.scroller;
  const viewH = sc.clientHeight - list.head.offsetHeight;
  const top = i * ROW_H;
  if (top < sc.scrollTop) sc.scrollTop = top;
  else if (top + ROW_H > sc.scrollTop + viewH) sc.scrollTop = top + ROW_H - viewH;
}

function moveSelection(delta) {
  const n = state.shown.length;
  if (!n) return;
  const at = indexOfSelected();
  const i = at < 0 ? (delta > 0 ? 0 : n - 1) : Math.min(n - 1, Math.max(0, at + delta));
  reveal(i); // first, so the render below draws the rows now in view
  select(state.shown[i], false);
}

function onListKey(e) {
  const page = Math.max(1, Math.floor(list.scroller.clientHeight / ROW_H) - 1);
  const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
  if (e.key in moves) {
    e.preventDefault();
    moveSelection(moves[e.key]);
  } else if (e.key === "Enter" && state.selected >= 0) {
    e.preventDefault();
    loadDetail(state.selected);
  }
}

// openFlow shows a flow from elsewhere (a finding, a sign-in step): the
// flows view, the row in view (clearing a filter that hides it), its detail.
function openFlow(id) {
  showView("flows");
  if (state.matchIds && !state.shown.includes(id)) {
    $("#filter").value = "";
    applyFilter("");
    toast(`Filter cleared to show flow #${id}`);
  }
  const i = state.shown.indexOf(id);
  if (i >= 0) reveal(i);
  select(id, true);
  list.scroller.focus({ preventScroll: true });
}

// ---------- filter ----------

let matchSeq = 0;

async function applyFilter(expr) {
  const seq = ++matchSeq;
  const input = $("#filter");
  if (!expr.trim()) {
    state.filter = "";
    state.matchIds = null;
    showFilterError(null);
    input.classList.remove("active");
    refreshShown();
    renderList();
    return;
  }
  try {
    const data = await getJSON(`api/match?filter=${encodeURIComponent(expr)}`);
    if (seq !== matchSeq) return;
    state.filter = expr;
    state.matchIds = (data.ids || []).slice().sort((a, b) => a - b);
    showFilterError(null);
    input.classList.add("active");
    refreshShown();
    renderList();
  } catch (e) {
    if (seq !== matchSeq) return;
    // Keep the previous list: a half-typed expression should not blank it.
    showFilterError(expr, e.message, e.body && e.body.pos);
  }
}

// rematch re-runs the active filter for new flows, unless the user is
// editing it: their own query is due, and it must not be overtaken.
const rematch = throttle(() => {
  if (state.filter && $("#filter").value === state.filter) applyFilter(state.filter);
}, REMATCH_EVERY);

// showFilterError shows the server's message under the box with the
// expression copied above a caret at the bad position.
function showFilterError(expr, message, pos) {
  const box = $("#filter-error");
  $("#filter").classList.toggle("bad", expr != null);
  if (expr == null) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const parts = [];
  let msg = message;
  if (Number.isInteger(pos) && pos >= 0) {
    const chars = Array.from(expr);
    const at = charIndex(chars, pos);
    parts.push(el("div", { class: "where" },
      chars.slice(0, at).join(""),
      el("mark", { text: chars[at] || " " }),
      chars.slice(at + 1).join("")));
    parts.push(el("div", { class: "where caret", text: `${" ".repeat(at)}^` }));
    msg = message.replace(/^at \d+: /, ""); // the caret says where
  }
  parts.push(el("div", { class: "msg", text: msg }));
  box.replaceChildren(...parts);
  box.hidden = false;
}

// insertFilterTerm adds a term from the help to the box: "~d DOMAIN" adds
// "~d " and waits for the domain; a complete term applies at once.
// charIndex turns the server's position, a UTF-8 byte offset, into an
// index in chars (the expression's code points).
function charIndex(chars, bytePos) {
  const utf8 = new TextEncoder();
  let bytes = 0;
  let i = 0;
  while (i < chars.length && bytes < bytePos) bytes += utf8.encode(chars[i++]).length;
  return i;
}

function insertFilterTerm(code) {
  const input = $("#filter");
  const cur = input.value.trimEnd();
  const operator = /^[!&|()]$/.test(code);
  const term = code.replace(/ [A-Z_]+$/, " ");
  const joiner = !cur || operator || /[!&|(]$/.test(cur) ? " " : " & ";
  input.value = (cur + joiner + term).trimStart();
  input.focus();
  if (!operator && !term.endsWith(" ")) applyFilter(input.value);
}

// ---------- detail pane ----------

let detailSeq = 0;

async function loadDetail(id, quiet = false) {
  const seq = ++detailSeq;
  if (!quiet) {
    state.detail = null;
    $("#detail-empty").hidden = true;
    $("#detail-tabs").hidden = true;
    $("#panel").hidden = false;
    $("#panel").replaceChildren(el("p", { class: "note", text: `Loading flow #${id}…` }));
    renderDetailHead(state.flows.get(id), null);
  }
  try {
    const f = await getJSON(`api/flows/${id}`);
    if (seq !== detailSeq) return;
    state.detail = f;
    renderDetail(quiet);
  } catch (e) {
    if (seq !== detailSeq || quiet) return;
    const s = state.flows.get(id);
    const why = s && s.gone
      ? "This flow's headers and bodies have left memory; the recording keeps everything."
      : `Could not load flow #${id}: ${e.message}`;
    $("#panel").replaceChildren(el("div", { class: "error-box", text: why }));
  }
}

// reloadDetail refreshes the open flow when its summary changes (a later
// finding, its transaction), keeping the tab and the scroll position.
const reloadDetail = throttle(() => {
  if (state.detail && state.detail.summary.id === state.selected) loadDetail(state.selected, true);
}, 500);

function renderDetailHead(s, f) {
  const head = $("#detail-head");
  if (!s) {
    head.hidden = true;
    return;
  }
  const req = f && f.request;
  const resp = f && f.response;
  const code = resp ? resp.status : s.status;
  const status = resp ? `${resp.status} ${resp.reason || ""}`.trim() : s.status ? String(s.status) : "no response";
  head.replaceChildren(
    el("div", { class: "line" },
      el("div", {},
        el("span", { class: "flow-id", text: `#${s.id}` }), " ",
        el("span", { class: "method", text: s.method }), " ",
        el("span", { class: `status ${statusClass(code) || "st-bad"}`, text: status }),
        s.mark ? [" ", el("span", { class: `mark sev-${s.sev}`, text: s.mark })] : ""),
      el("div", { class: "url", text: req ? req.url : `${s.host}${s.path}` })),
    f && req ? el("button", { type: "button", title: "Copy the request as a curl command (secrets removed)", onclick: () => copyCurl(s.id) }, "Copy curl") : "",
  );
  head.hidden = false;
}

async function copyCurl(id) {
  try {
    const text = await (await api(`api/flows/${id}/curl`)).text();
    await copyText(text);
    toast("Copied the request as a curl command (sanitized)");
  } catch (e) {
    toast(`Could not copy curl: ${e.message}`, "error");
  }
}

const TABS = {
  overview: renderOverview,
  headers: renderHeaders,
  cookies: renderCookies,
  body: renderBodies,
  decoded: renderDecoded,
  findings: renderFlowFindings,
};

function tabCount(f, tab) {
  const cookies = f.cookies || {};
  const d = f.decoded || {};
  switch (tab) {
    case "headers": return ((f.request && f.request.headers) || []).length + ((f.response && f.response.headers) || []).length;
    case "cookies": return (cookies.sent || []).length + (cookies.set || []).length;
    case "decoded": return (d.errors || []).length + (d.tokens || []).length;
    case "findings": return (f.findings || []).length;
    default: return 0;
  }
}

function renderDetail(keepScroll) {
  const f = state.detail;
  renderDetailHead(f.summary, f);
  $("#detail-empty").hidden = true;
  $("#detail-tabs").hidden = false;
  for (const b of document.querySelectorAll("#detail-tabs [data-tab]")) {
    const tab = b.dataset.tab;
    const n = tabCount(f, tab);
    const worst = tab === "findings" ? worstSeverity(f.findings) : "";
    b.dataset.label ||= b.textContent;
    b.replaceChildren(b.dataset.label, n ? " " : "",
      n ? el("span", { class: `n${worst === "error" ? " err" : ""}`, text: String(n) }) : "");
    b.setAttribute("aria-selected", String(tab === state.tab));
  }
  const panel = $("#panel");
  const top = panel.scrollTop;
  panel.hidden = false;
  panel.replaceChildren(...nodes(TABS[state.tab](f)));
  panel.scrollTop = keepScroll ? top : 0;
}

function worstSeverity(findings) {
  let worst = "";
  for (const x of findings || []) if ((SEV_RANK[x.severity] || 0) > (SEV_RANK[worst] || 0)) worst = x.severity;
  return worst;
}

function kvTable(rows, cls = "kv") {
  return el("table", { class: cls }, el("tbody", {}, rows.map(([k, v]) =>
    el("tr", {}, el("th", { text: k }), el("td", {}, v)))));
}

// tree renders a decoded value of unknown shape as nested key/value tables.
function tree(v, depth = 0) {
  if (v == null) return el("span", { class: "note", text: "null" });
  if (typeof v !== "object") return String(v);
  if (depth > 8) return JSON.stringify(v);
  // A list of plain values (amr, roles, groups) reads best on one line.
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) return v.join(", ");
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
  if (!entries.length) return el("span", { class: "note", text: Array.isArray(v) ? "[]" : "{}" });
  return kvTable(entries.map(([k, x]) => [k, tree(x, depth + 1)]));
}

function renderOverview(f) {
  const s = f.summary;
  const req = f.request;
  const resp = f.response;
  const out = [];
  if (s.gone) out.push(el("p", { class: "note warn", text: "This flow's headers and bodies have left memory; the recording keeps everything." }));
  if (s.mark) out.push(el("p", { class: `sev-${s.sev}` }, el("strong", { text: s.mark })));
  out.push(el("h2", { text: "Request" }));
  if (req) out.push(el("div", { class: "reqline", text: `${req.method} ${req.url} ${req.proto || ""}` }));
  out.push(el("h2", { text: "Response" }));
  if (resp) {
    out.push(el("div", { class: "reqline" }, `${resp.proto || ""} `,
      el("span", { class: statusClass(resp.status), text: `${resp.status} ${resp.reason || ""}` }),
      resp.synthetic ? [" ", el("span", { class: "badge", title: "made by aadproxy, not the server", text: "synthetic" })] : ""));
  } else out.push(el("p", { class: "note", text: "No response." }));
  if (f.error) out.push(el("div", { class: "error-box", text: f.error }));
  out.push(el("h2", { text: "Timing" }), waterfall(f.timings || {}));
  out.push(el("h2", { text: "Connection" }), kvTable([
    ["client", f.clientAddr || "—"],
    ["client TLS", tlsText(f.clientTLS)],
    ["server", f.serverAddr || "—"],
    ["server TLS", tlsText(f.serverTLS)],
  ]));
  out.push(el("h2", { text: "Sign-in" }));
  const t = f.transaction;
  if (t) {
    out.push(el("p", {},
      el("button", { type: "button", class: "link", onclick: () => openTxn(t.id) }, `Sign-in #${t.id}`), " ",
      el("span", { class: `badge ${outcomeClass(t.outcome)}`, text: t.outcome }), " ",
      t.protocol, t.code ? ` · ${aadsts(t.code)}` : "",
      ` · ${plural((t.flows || []).length, "flow")}`));
  } else out.push(el("p", { class: "note", text: "Not part of a sign-in transaction." }));
  if (s.source) out.push(el("p", { class: "note", text: `Imported from ${s.source}` }));
  return out;
}

function tlsText(t) {
  if (!t || !t.version) return "none (plain HTTP or tunnelled)";
  return [t.version, t.alpn && `ALPN ${t.alpn}`, t.serverName && `SNI ${t.serverName}`].filter(Boolean).join(" · ");
}

// waterfall draws the known phases end to end, scaled to their sum.
function waterfall(t) {
  const known = PHASES.filter((p) => typeof t[p] === "number" && t[p] >= 0);
  const total = known.reduce((sum, p) => sum + t[p], 0);
  if (!known.length) return el("p", { class: "note", text: "No timings recorded." });
  const box = el("div", { class: "waterfall" });
  let at = 0;
  for (const p of known) {
    const bar = el("div", { class: `bar ${p}` });
    bar.style.left = `${total ? (at / total) * 100 : 0}%`;
    bar.style.width = `${total ? (t[p] / total) * 100 : 0}%`;
    at += t[p];
    box.append(el("span", { class: "name", text: p }), el("div", { class: "track" }, bar), el("span", { class: "ms", text: fmtMs(t[p]) }));
  }
  box.append(el("span", { class: "name total", text: "total" }), el("span", {}, t.start ? `started ${fmtDateTime(t.start)}` : ""),
    el("span", { class: "ms total", text: fmtMs(total) }));
  return box;
}

function renderHeaders(f) {
  const side = (title, msg) => [
    el("h2", { text: title }),
    msg && (msg.headers || []).length
      ? kvTable(msg.headers.map((h) => [h.name, h.value]))
      : el("p", { class: "note", text: "None." }),
  ];
  return [side("Request headers", f.request), side("Response headers", f.response)];
}

function renderCookies(f) {
  const c = f.cookies || {};
  const table = (title, cookies, withChange) => [
    el("h2", { text: `${title} (${(cookies || []).length})` }),
    (cookies || []).length ? el("table", { class: "grid cookies" },
      el("thead", {}, el("tr", {}, ["Name and label", "Size", "Value", "Attributes", withChange ? "Change" : null]
        .filter(Boolean).map((h) => el("th", { text: h })))),
      // The label sits under the name: Entra's labels are sentences, and
      // the value needs the width.
      el("tbody", {}, cookies.map((k) => el("tr", { class: k.label ? "entra" : "" },
        el("td", {}, el("strong", { class: "mono", text: k.name }), k.label ? el("div", { class: "label", text: k.label }) : ""),
        el("td", { class: "mono nowrap", text: fmtBytes(k.size) }),
        el("td", { class: "mono" }, cookieValue(k.value)),
        el("td", { class: "mono attrs", text: attrsText(k.attrs) }),
        withChange ? el("td", {}, k.change ? el("span", { class: `badge ${k.change}`, text: k.change }) : "") : null))))
      : el("p", { class: "note", text: "None." }),
  ];
  return [table("Sent", c.sent, false), table("Set", c.set, true)];
}

// cookieValue shows a long value shortened; a click shows it all.
function cookieValue(v) {
  const value = v || "";
  if (value.length <= VALUE_PREVIEW) return value;
  const span = el("span", { class: "value", title: "Click to show the whole value", text: `${value.slice(0, VALUE_PREVIEW)}…` });
  span.addEventListener("click", () => {
    if (span.classList.contains("open")) return;
    span.textContent = value;
    span.classList.add("open");
    span.title = "";
  });
  return span;
}

function attrsText(a) {
  if (!a) return "";
  if (typeof a === "string") return a;
  if (Array.isArray(a)) return a.join("; ");
  return Object.entries(a).map(([k, v]) => (v === true || v === "" ? k : `${k}=${v}`)).join("; ");
}

function renderBodies(f) {
  return [bodySection("Request body", f, "request"), bodySection("Response body", f, "response")];
}

function bodySection(title, f, side) {
  const msg = f[side];
  const b = msg && msg.body;
  const url = `api/flows/${f.summary.id}/body/${side}?download=1`;
  if (!b || !b.size) return [el("h2", { text: title }), el("p", { class: "note", text: "No body." })];
  const facts = [fmtBytes(b.size), b.contentType, b.encoding].filter(Boolean).join(" · ");
  const out = [el("h2", {}, title, " ", el("span", { class: "n", text: facts }), " ",
    el("a", { href: url, download: "", class: "n" }, "download"))];
  if (b.truncated || b.omitted > 0) {
    out.push(el("p", { class: "note warn" },
      b.truncated ? `The capture kept only ${b.captured ? fmtBytes(b.captured) : "part"} of this body. ` : "",
      b.omitted > 0 ? `${fmtBytes(b.omitted)} not shown here. ` : "",
      el("a", { href: url, download: "" }, "Download the whole body")));
  }
  if (b.decodeError) out.push(el("p", { class: "note warn", text: b.decodeError }));
  out.push(bodyView(b));
  return out;
}

function bodyView(b) {
  const type = (b.contentType || "").toLowerCase();
  if (typeof b.text === "string" && b.text !== "") {
    const json = type.includes("json") || /^\s*[[{]/.test(b.text) ? tryJSON(b.text) : undefined;
    if (json !== undefined) return el("pre", { class: "source", text: JSON.stringify(json, null, 2) });
    if (type.includes("x-www-form-urlencoded")) {
      const rows = [...new URLSearchParams(b.text)].map(([k, v]) => [k, v]);
      if (rows.length) return kvTable(rows);
    }
    return el("pre", { class: "source", text: b.text });
  }
  if (b.base64) return el("pre", { class: "source hex", text: hexDump(b.base64) });
  return el("p", { class: "note", text: "The body is not shown here; download it." });
}

function tryJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// hexDump renders bytes as offset, 16 hex bytes and their printable ASCII.
function hexDump(b64) {
  let bin;
  try {
    bin = atob(b64);
  } catch {
    return "(the body's bytes are not valid base64)";
  }
  const lines = [];
  for (let off = 0; off < bin.length; off += 16) {
    const chunk = bin.slice(off, off + 16);
    let hex = "";
    let ascii = "";
    for (let i = 0; i < 16; i++) {
      if (i < chunk.length) {
        const c = chunk.charCodeAt(i);
        hex += c.toString(16).padStart(2, "0") + " ";
        ascii += c >= 0x20 && c < 0x7f ? chunk[i] : ".";
      } else hex += "   ";
      if (i === 7) hex += " ";
    }
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex} ${ascii}`);
  }
  return lines.join("\n");
}

function renderDecoded(f) {
  const d = f.decoded || {};
  const out = [];
  for (const e of d.errors || []) out.push(errorCard(e));
  for (const t of d.tokens || []) out.push(tokenCard(t));
  if (d.clientInfo && Object.keys(d.clientInfo).length) out.push(el("h2", { text: "client_info" }), tree(d.clientInfo));
  if (d.prt && Object.keys(d.prt).length) out.push(el("h2", { text: "Primary refresh token (PRT)" }), tree(d.prt));
  if (d.saml && d.saml.length) out.push(el("h2", { text: "SAML / WS-Federation" }), d.saml.map((x) => tree(x)));
  if (d.form && Object.keys(d.form).length) out.push(el("h2", { text: "Form fields" }), kvTable(Object.entries(d.form).map(([k, v]) => [k, tree(v)])));
  if (d.params && Object.keys(d.params).length) {
    out.push(el("h2", { text: "OAuth parameters" }),
      kvTable(Object.entries(d.params).map(([k, v]) => [k, [].concat(v).join("\n")])));
  }
  // Fields the page does not know yet still show, rather than hide.
  for (const [k, v] of Object.entries(d)) {
    if (!DECODED_FIELDS.has(k) && v != null) out.push(el("h2", { text: k }), tree(v));
  }
  if (!out.length) out.push(el("p", { class: "note", text: "Nothing to decode: no AADSTS error, token, client_info, PRT, SAML, form or OAuth parameter." }));
  return out;
}

// DECODED_FIELDS are the decoded views renderDecoded lays out.
const DECODED_FIELDS = new Set(["errors", "tokens", "clientInfo", "prt", "saml", "form", "params"]);

function errorCard(e) {
  return el("div", { class: "card sev-error" },
    el("div", { class: "card-title" }, el("span", { class: "sev-error", text: aadsts(e.code) }), e.name ? el("code", { text: e.name }) : "",
      e.oauthError ? el("code", { text: e.oauthError }) : "", e.source ? el("span", { class: "n", text: `in ${e.source}` }) : ""),
    e.message ? el("p", { text: e.message }) : "",
    kvTable([
      ["all codes", (e.codes || []).length > 1 ? e.codes.map(aadsts).join(", ") : ""],
      ["correlation id", e.correlationId],
      ["trace id", e.traceId],
      ["request id", e.requestId],
      ["timestamp", e.timestamp],
    ].filter(([, v]) => v)),
    e.playbook ? el("details", { open: true }, el("summary", { text: "What it means and how to fix it" }), el("pre", { class: "source", text: e.playbook })) : "");
}

// tokenCard shows a decoded token; each time claim carries its UTC and its
// distance from the server's clock beside the raw value.
function tokenCard(t) {
  const claims = t.claims || {};
  const times = t.times || [];
  const timeOf = new Map(times.map((x) => [x.claim, x]));
  const rows = Object.entries(claims).map(([k, v]) => [k, [tree(v), timeNote(timeOf.get(k))]]);
  // A time the claims do not list still shows.
  for (const x of times) if (!(x.claim in claims)) rows.push([x.claim, [String(x.value ?? ""), timeNote(x)]]);
  return el("div", { class: "card" },
    el("div", { class: "card-title" }, t.kind || "token", el("code", { text: t.where || "" }),
      t.len ? el("span", { class: "n", text: plural(t.len, "character") }) : ""),
    t.error ? el("div", { class: "error-box", text: t.error }) : "",
    el("h3", { text: "Header" }), tree(t.header || {}),
    el("h3", { text: "Claims" }), rows.length ? kvTable(rows) : el("p", { class: "note", text: "None." }),
    Object.entries(t).filter(([k]) => !TOKEN_FIELDS.has(k)).map(([k, v]) => [el("h3", { text: k }), tree(v)]));
}

function timeNote(x) {
  return x ? el("span", { class: "relative", text: [x.utc, x.relative].filter(Boolean).join(" · ") }) : "";
}

// TOKEN_FIELDS are the token fields tokenCard lays out; others show as trees.
const TOKEN_FIELDS = new Set(["where", "kind", "len", "error", "header", "claims", "times"]);

function renderFlowFindings(f) {
  const findings = f.findings || [];
  if (!findings.length) return el("p", { class: "note", text: "The rules found nothing wrong in this flow." });
  return findings.map((x) => findingCard(x, f.summary.id));
}

function findingCard(x, here) {
  const others = [x.flow, ...(x.related || [])].filter((id, i, a) => id !== here && a.indexOf(id) === i);
  return el("div", { class: `card sev-${x.severity}` },
    el("div", { class: "card-title" },
      el("span", { class: `badge sev-${x.severity}`, text: x.severity }),
      el("code", { text: x.rule }), x.code ? el("span", { class: "sev-error", text: aadsts(x.code) }) : "",
      el("span", { text: x.title })),
    x.evidence ? el("div", { class: "evidence", text: x.evidence }) : "",
    x.fix ? el("p", { class: "fix", text: x.fix }) : "",
    others.length ? el("p", { class: "rel-links" }, "Related flows: ", others.map(flowLink)) : "");
}

function flowLink(id) {
  return el("button", { type: "button", class: "link", title: `Show flow #${id}`, onclick: () => openFlow(id) }, `#${id}`);
}

// ---------- sign-ins view ----------

let signinSeq = 0;

async function loadSignins() {
  const seq = ++signinSeq;
  try {
    const data = await getJSON("api/transactions");
    if (seq !== signinSeq) return;
    state.transactions = data.transactions || [];
    renderSignins();
  } catch (e) {
    if (seq === signinSeq) $("#txns").replaceChildren(el("div", { class: "error-box", text: `Could not load the sign-ins: ${e.message}` }));
  }
}

const refreshSignins = throttle(loadSignins, VIEW_REFRESH_EVERY);

function outcomeClass(outcome) {
  return outcome === "failed" || outcome === "succeeded" ? outcome : "";
}

function renderSignins() {
  const failedOnly = $("#failed-only").checked;
  const all = state.transactions;
  const failed = all.filter((t) => t.outcome === "failed").length;
  $("#signins-count").textContent = `${plural(all.length, "sign-in")} · ${fmtInt(failed)} failed · newest first`;
  const shown = all.filter((t) => !failedOnly || t.outcome === "failed").reverse();
  const box = $("#txns");
  if (!shown.length) {
    box.replaceChildren(el("div", { class: "empty", text: all.length ? "No failed sign-ins." : "No sign-ins yet. They appear here as flows of an Entra sign-in or token call arrive." }));
    return;
  }
  // A long capture holds thousands; the view refreshes as they change.
  const more = shown.length - MAX_SIGNINS;
  box.replaceChildren(...shown.slice(0, MAX_SIGNINS).map(txnCard),
    more > 0 ? el("p", { class: "note", text: `${plural(more, "older sign-in")} not shown. Tick "Failed only" or filter the flows with ~txn N.` }) : "");
}

function txnCard(t) {
  const support = t.support;
  const codeName = support && support.name;
  return el("div", { class: `txn ${outcomeClass(t.outcome)}`, dataset: { txn: t.id } },
    el("div", { class: "txn-head" },
      el("span", { class: "id", text: `#${t.id}` }),
      el("span", { class: `badge ${outcomeClass(t.outcome)}`, text: t.outcome }),
      el("span", { class: "proto", text: t.protocol }),
      t.code ? el("span", { class: "code", text: [aadsts(t.code), codeName].filter(Boolean).join(" ") }) : "",
      t.clientId ? el("span", { class: "meta" }, "client ", el("code", { text: t.clientId })) : "",
      t.tenant ? el("span", { class: "meta" }, "tenant ", el("code", { text: t.tenant })) : "",
      el("span", { class: "meta", text: `${fmtDateTime(t.start)} · ${plural((t.flows || []).length, "flow")}` })),
    el("div", { class: "timeline" }, (t.steps || []).map((s, i) => [i ? el("span", { class: "arrow", text: "→" }) : "", stepLink(s, t)])),
    t.decisive ? decisiveBlock(t.decisive) : "",
    t.outcome === "failed" && support ? supportBlock(support) : "");
}

// shortPath keeps a path's last whole segments, which name the endpoint
// ("…/oauth2/v2.0/authorize"); the step's title has the whole URL.
function shortPath(p) {
  const path = (p || "").split("?")[0];
  if (path.length <= STEP_PATH) return path;
  const segs = path.split("/");
  let out = segs.pop();
  while (segs.length && out.length + segs[segs.length - 1].length + 1 <= STEP_PATH) out = `${segs.pop()}/${out}`;
  return `…/${out}`;
}

function stepLink(s, t) {
  const failed = s.failed || (t.decisive && t.decisive.flow === s.flow);
  const mark = failed ? s.mark || (t.decisive && markText(t.decisive)) : "";
  const sev = s.sev || (t.decisive && t.decisive.severity) || "error";
  return el("a", {
    class: `step${failed ? " failed" : ""}`, href: `#flow-${s.flow}`, dataset: { flow: s.flow },
    title: `${s.method} ${s.host}${s.path}`,
  },
  el("span", { class: "step-label", text: s.label || `flow #${s.flow}` }),
  el("span", { class: "step-req", text: `${s.method} ${shortPath(s.path)}` }),
  el("span", { class: "step-host", text: s.host }),
  el("span", { class: `step-status ${statusClass(s.status)}`, text: s.status ? String(s.status) : "no response" }),
  mark ? el("span", { class: `step-mark sev-${sev}`, text: mark }) : "");
}

function markText(x) {
  return [aadsts(x.code), x.rule].filter(Boolean).join(" · ");
}

function decisiveBlock(x) {
  return el("div", { class: `decisive sev-${x.severity}` },
    el("span", { class: "mark", text: markText(x) }), el("span", { class: "title", text: x.title }),
    x.fix ? el("div", { class: "fix", text: x.fix }) : "");
}

function supportBlock(s) {
  const rows = [
    ["correlation id", s.correlationId], ["request id", s.requestId], ["trace id", s.traceId],
    ["timestamp", s.timestamp], ["error", [aadsts(s.code), s.name].filter(Boolean).join(" ")],
    ["tenant", s.tenant], ["client id", s.clientId],
  ].filter(([, v]) => v);
  const side = el("div", { class: "side" });
  const button = el("button", { type: "button", class: "copy", title: "Copy these details for a support ticket" }, "Copy for support");
  button.addEventListener("click", async () => {
    const ok = await copyText(s.text || "", side);
    button.textContent = ok ? "Copied" : "Press Ctrl+C";
    button.classList.toggle("done", ok);
    setTimeout(() => { button.textContent = "Copy for support"; button.classList.remove("done"); }, 2000);
  });
  side.append(button);
  return el("div", { class: "support" }, kvTable(rows), side);
}

// copyText copies with the Clipboard API; without it (an old browser, no
// permission) it shows the text selected in a textarea for Ctrl+C.
async function copyText(text, fallbackBox) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const box = fallbackBox || document.body;
    const area = box.querySelector(":scope > textarea") || el("textarea", { readonly: true, "aria-label": "Text to copy" });
    area.value = text;
    box.append(area);
    area.select();
    const ok = document.execCommand && document.execCommand("copy");
    if (ok || !fallbackBox) area.remove();
    return Boolean(ok);
  }
}

// openTxn shows one sign-in in the Sign-ins view.
async function openTxn(id) {
  showView("signins");
  await loadSignins();
  const card = document.querySelector(`.txn[data-txn="${Number(id)}"]`);
  if (!card) {
    toast(`Sign-in #${id} is no longer held`, "warning");
    return;
  }
  card.scrollIntoView({ block: "start" });
  card.classList.add("highlight");
  setTimeout(() => card.classList.remove("highlight"), 2000);
}

// ---------- findings view ----------

let findingsSeq = 0;

async function loadFindings() {
  const seq = ++findingsSeq;
  try {
    const data = await getJSON("api/findings");
    if (seq !== findingsSeq) return;
    state.findings = data.findings || [];
    renderFindings();
  } catch (e) {
    if (seq === findingsSeq) toast(`Could not load the findings: ${e.message}`, "error");
  }
}

const refreshFindings = throttle(loadFindings, VIEW_REFRESH_EVERY);

const FINDING_KEYS = {
  severity: (x) => SEV_RANK[x.severity] || 0,
  rule: (x) => x.rule,
  code: (x) => x.code || 0,
  title: (x) => x.title,
  flow: (x) => x.flow,
};

function renderFindings() {
  const rows = state.findings.slice();
  const sort = state.findingsSort;
  if (sort) {
    const key = FINDING_KEYS[sort.key];
    const dir = sort.dir === "asc" ? 1 : -1;
    // Ties keep flow order, so equal severities read oldest first.
    rows.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return (ka < kb ? -1 : ka > kb ? 1 : 0) * dir || a.flow - b.flow;
    });
  }
  for (const b of document.querySelectorAll("#findings-table [data-sort]")) {
    if (sort && b.dataset.sort === sort.key) b.dataset.dir = sort.dir;
    else delete b.dataset.dir;
  }
  $("#findings-empty").hidden = rows.length > 0;
  // Thousands of rows would make every refresh slow; the flow filter
  // (~rule, ~sev, ~aadsts) narrows a long capture better than scrolling.
  const more = rows.length - MAX_FINDINGS;
  $("#findings-more").hidden = more <= 0;
  $("#findings-more").textContent = more > 0 ? `${plural(more, "more finding")} not shown: sort, or filter the flows with ~rule ID or ~sev LEVEL.` : "";
  $("#findings-rows").replaceChildren(...rows.slice(0, MAX_FINDINGS).map((x) => el("tr", {},
    el("td", {}, el("span", { class: `badge sev-${x.severity}`, text: x.severity })),
    el("td", {}, el("code", { text: x.rule })),
    el("td", { class: "mono", text: aadsts(x.code) }),
    el("td", {}, el("div", { text: x.title }), x.evidence ? el("div", { class: "note", text: x.evidence }) : ""),
    el("td", {}, flowLink(x.flow)))));
}

function onFindingsSort(e) {
  const b = e.target.closest("[data-sort]");
  if (!b) return;
  const key = b.dataset.sort;
  const cur = state.findingsSort;
  // Severity starts with the worst first; text and numbers ascending.
  const first = key === "severity" ? "desc" : "asc";
  const dir = cur && cur.key === key ? (cur.dir === "asc" ? "desc" : "asc") : first;
  state.findingsSort = { key, dir };
  renderFindings();
}

// ---------- views ----------

function showView(view) {
  state.view = view;
  for (const v of ["flows", "signins", "findings"]) {
    $(`#view-${v}`).hidden = v !== view;
    $(`#tab-${v}`).setAttribute("aria-selected", String(v === view));
  }
  $("#follow-label").hidden = view !== "flows";
  if (view === "flows") scheduleRender();
  if (view === "signins") loadSignins();
  if (view === "findings") loadFindings();
}

// ---------- top bar actions ----------

async function togglePause() {
  const paused = state.status && state.status.paused;
  try {
    await post(paused ? "api/resume" : "api/pause");
    if (state.status) setStatus({ ...state.status, paused: !paused });
    refreshStatus();
  } catch (e) {
    toast(`Could not ${paused ? "resume" : "pause"}: ${e.message}`, "error");
  }
}

async function clearFlows() {
  if (!confirm("Clear all flows from the inspector?\n\nThe recording file, if any, keeps them.")) return;
  try {
    await post("api/clear");
    clearStore();
    state.selected = -1;
    refreshShown();
    renderList();
    renderCount();
    refreshStatus();
  } catch (e) {
    toast(`Could not clear: ${e.message}`, "error");
  }
}

function exportShown() {
  download(state.filter ? `api/export?filter=${encodeURIComponent(state.filter)}` : "api/export");
}

function downloadRawBundle() {
  const ok = confirm("The raw bundle holds the UNSANITIZED trace: passwords, tokens, codes and cookies, " +
    "as they crossed the wire.\n\nShare it only with someone you would give your credentials to. " +
    "For a support ticket, use the (sanitized) Bundle button.\n\nDownload the raw bundle?");
  if (ok) download("api/bundle?raw=1");
}

// headerSafe keeps X-Filename within the bytes a header may carry.
function headerSafe(name) {
  return /^[\x20-\x7e]*$/.test(name) ? name : encodeURIComponent(name);
}

async function importFiles(files) {
  for (const file of files) {
    if (!/\.(har|saz)$/i.test(file.name)) {
      toast(`${file.name}: only .har and .saz files can be imported`, "error");
      continue;
    }
    toast(`Importing ${file.name}…`);
    try {
      const res = await post("api/import", {
        headers: { "X-Filename": headerSafe(file.name), "Content-Type": "application/octet-stream" },
        body: file,
      });
      const data = await res.json();
      if (data.warning) {
        // A damaged file gives the flows before the damage: say it is damaged.
        toast(`Imported ${plural(data.imported || 0, "flow")} from ${file.name}, but it is damaged: ${data.warning}`, "warning");
      } else {
        toast(`Imported ${plural(data.imported || 0, "flow")} from ${file.name}`);
      }
    } catch (e) {
      toast(`Could not import ${file.name}: ${e.message}`, "error");
    }
  }
}

// Drag-and-drop anywhere imports; the counter copes with dragenter and
// dragleave firing for every child element crossed.
function setupDrop() {
  const overlay = $("#drop");
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
  window.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  window.addEventListener("dragleave", (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  window.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    importFiles(Array.from(e.dataTransfer.files));
  });
}

// The splitter between list and detail; the width survives a reload.
function setupSplit() {
  const split = $("#split");
  const pane = $("#list-pane");
  const saved = Number(localStorage.getItem("aadproxy.listWidth"));
  if (saved > 0) pane.style.flexBasis = `${saved}px`;
  split.addEventListener("pointerdown", (e) => {
    split.setPointerCapture(e.pointerId);
    split.classList.add("dragging");
  });
  split.addEventListener("pointermove", (e) => {
    if (!split.hasPointerCapture(e.pointerId)) return;
    const left = pane.getBoundingClientRect().left;
    const width = Math.max(320, Math.min(window.innerWidth - 320, e.clientX - left));
    pane.style.flexBasis = `${width}px`;
  });
  split.addEventListener("pointerup", (e) => {
    split.releasePointerCapture(e.pointerId);
    split.classList.remove("dragging");
    localStorage.setItem("aadproxy.listWidth", String(Math.round(pane.getBoundingClientRect().width)));
    scheduleRender();
  });
}

function setupFilter() {
  const input = $("#filter");
  const run = debounce(() => applyFilter(input.value), FILTER_DELAY);
  input.addEventListener("input", run);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") applyFilter(input.value);
    if (e.key === "Escape") {
      // First Escape clears the filter (the box has no clear button), the next leaves it.
      if (input.value) {
        input.value = "";
        applyFilter("");
      } else {
        input.blur();
      }
    }
  });
  const help = $("#filter-help");
  const toggle = $("#filter-help-toggle");
  toggle.addEventListener("click", () => {
    help.hidden = !help.hidden;
    toggle.setAttribute("aria-expanded", String(!help.hidden));
  });
  help.addEventListener("click", (e) => {
    const code = e.target.closest("td:first-child code");
    if (code) insertFilterTerm(code.textContent);
  });
  document.addEventListener("click", (e) => {
    if (!help.hidden && !help.contains(e.target) && e.target !== toggle) {
      help.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
    }
  });
}

function setupList() {
  list.scroller = $("#flows");
  list.head = $("#flow-head");
  list.spacer = $("#flow-spacer");
  list.rows = $("#flow-rows");
  list.scroller.addEventListener("scroll", onListScroll, { passive: true });
  list.scroller.addEventListener("keydown", onListKey);
  list.rows.addEventListener("click", (e) => {
    const row = e.target.closest(".row");
    if (row) select(Number(row.dataset.id), true);
  });
  $("#follow").addEventListener("change", (e) => {
    setFollow(e.target.checked);
    scheduleRender();
  });
  new ResizeObserver(scheduleRender).observe(list.scroller);
}

function setupDetail() {
  $("#detail-tabs").addEventListener("click", (e) => {
    const b = e.target.closest("[data-tab]");
    if (!b || !state.detail) return;
    state.tab = b.dataset.tab;
    renderDetail(false);
  });
}

function setupViews() {
  for (const v of ["flows", "signins", "findings"]) $(`#tab-${v}`).addEventListener("click", () => showView(v));
  $("#txns").addEventListener("click", (e) => {
    const step = e.target.closest("a.step");
    if (!step) return;
    e.preventDefault();
    openFlow(Number(step.dataset.flow));
  });
  $("#failed-only").addEventListener("change", renderSignins);
  $("#findings-table thead").addEventListener("click", onFindingsSort);
}

function setupActions() {
  $("#pause").addEventListener("click", togglePause);
  $("#clear").addEventListener("click", clearFlows);
  $("#export").addEventListener("click", exportShown);
  $("#bundle").addEventListener("click", () => download("api/bundle"));
  $("#bundle-raw").addEventListener("click", downloadRawBundle);
  $("#import").addEventListener("change", (e) => {
    importFiles(Array.from(e.target.files));
    e.target.value = ""; // so the same file can be imported again
  });
}

// Keys outside text fields: "/" focuses the filter; the list keys work
// from anywhere in the flows view, not only with the list focused.
function setupKeys() {
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t.closest("input, textarea, select, [contenteditable]") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") {
      e.preventDefault();
      $("#filter").focus();
    } else if (state.view === "flows" && t !== list.scroller && !t.closest("#panel, #detail-tabs, button, a")) {
      onListKey(e);
    }
  });
}

async function start() {
  setupList();
  setupDetail();
  setupViews();
  setupFilter();
  setupActions();
  setupDrop();
  setupSplit();
  setupKeys();
  renderList();
  try {
    setStatus(await getJSON("api/status"));
  } catch (e) {
    if (e.status === 401) return;
    toast(`Could not reach aadproxy: ${e.message}`, "error");
  }
  connect();
  // The first load waits for the live channel's hello, so no flow falls
  // between the list and the channel; without a hello, load anyway.
  setTimeout(() => {
    if (!loadSeq) reload();
  }, 2000);
  list.scroller.focus({ preventScroll: true });
}

start();
