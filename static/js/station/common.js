// What every station page shares: the site and strings the server rendered, the desk this
// tablet is at (remembered on the device), the live connection, and the outbox that sends
// actions with idempotency keys and retries them until the server has answered.
import { connectLive } from "../live.js";
import { csrfToken } from "../csrf.js";
import { syncClock } from "../clock.js";

const root = document.getElementById("station");
export const site = JSON.parse(document.getElementById("site-info").textContent);
export const strings = JSON.parse(document.getElementById("strings").textContent);
export const station = root.dataset.station;
export const lang = root.dataset.lang === "en" ? "en" : "zh";
const apiBase = root.dataset.api;
const UNDO_MS = Math.max(3, Number(root.dataset.undoSeconds || 15) - 3) * 1000;
const RETRY_MS = 2000;

localStorage.setItem("siteflow.station", station); // the sign-in page remembers where this tablet is

/** A translated string with {placeholders} filled in. */
export function t(key, vars = {}) {
  let text = strings[key] || key;
  for (const [name, value] of Object.entries(vars)) text = text.split(`{${name}}`).join(String(value));
  return text;
}

/** The label of a coded item ({code, zh, en}) in this page's language. */
export function label(item) {
  return item ? item[lang] || item.en || item.code : "";
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child))); // never markup
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

// --- the desk ---------------------------------------------------------------------------------
const deskSelect = $("desk");
if (deskSelect) {
  const remembered = localStorage.getItem(deskSelect.dataset.remember);
  if (remembered && [...deskSelect.options].some((option) => option.value === remembered)) deskSelect.value = remembered;
  deskSelect.addEventListener("change", () => {
    localStorage.setItem(deskSelect.dataset.remember, deskSelect.value);
    notify();
  });
}
export function desk() {
  return deskSelect ? deskSelect.value : "1";
}

// --- messages ---------------------------------------------------------------------------------
const messageBox = $("message");
/** A line in the action bar; `back`: with the way back to the station list (permission errors). */
export function say(text, kind = "info", { back = false } = {}) {
  messageBox.textContent = text;
  messageBox.dataset.kind = kind;
  $("message-back").hidden = !back;
}

// Refusals the page words itself (the server's messages are English, for developers); the
// first ones are about who is asking, and come with the way back to the station list.
const WORDS = { forbidden: "not_allowed", role_forbidden: "not_allowed", missing_token: "signed_out",
  unauthorized: "signed_out", credential_ended: "signed_out", password_change_required: "signed_out",
  desk_busy: "desk_busy", invalid_transition: "invalid_transition", version_conflict: "version_conflict",
  recall_limit: "recall_limit", early_release: "early_release", undo_not_possible: "undo_not_possible",
  undo_not_yours: "undo_not_yours", wrong_desk: "wrong_desk", no_queue: "no_queue",
  already_vaccinated_today: "already_vaccinated_today", lot_empty: "lot_empty_here", lot_not_held: "lot_not_held_here",
  vial_already_open: "vial_already_open", vial_not_open: "vial_not_open", not_enough_stock: "not_enough_stock" };
function notAllowed(error) {
  return Boolean(error) && ["not_allowed", "signed_out"].includes(WORDS[error.code]);
}

/** A refusal from the API, in words for the person at the tablet. */
export function describe(error) {
  if (!error) return t("server_error");
  if (WORDS[error.code]) return t(WORDS[error.code]);
  const fields = error.fields || {};
  const named = Object.entries(fields).filter(([name]) => name !== "remaining_seconds");
  if (error.code === "validation_failed" && named.length) {
    // The API names its fields and reasons in English: in Chinese, say so in Chinese.
    if (lang !== "en") return t("check_entries");
    return named.map(([field, message]) => t("field", { field, message })).join(" ");
  }
  if (lang === "en") return error.message || t("server_error");
  return error.code ? t("refused_here") : t("server_error");
}

/** "Not done: …" for a refused action (a permission error with the way back). */
export function refused(error) {
  say(t("failed", { message: describe(error) }), "error", { back: notAllowed(error) });
}

// --- errors beside their fields ------------------------------------------------------------------
// A field is an input, select or canvas, or a group of them (a fieldset, a screening question,
// the checklist). A wrong one is marked (class "invalid", aria-invalid on it and on its inputs
// not ticked) and its reason is written right after it (or into the box its data-error names).
let errorCount = 0;

function errorBox(field) {
  if (field.dataset.error) return $(field.dataset.error);
  if (!field.id) field.id = `field-${(errorCount += 1)}`;
  return $(`${field.id}-error`);
}

export function clearField(field) {
  field.classList.remove("invalid");
  for (const node of [field, ...field.querySelectorAll("[aria-invalid]")]) node.removeAttribute("aria-invalid");
  const box = errorBox(field);
  if (box && box.classList.contains("field-error")) {
    if (field.dataset.error) box.hidden = true; // the page's own box stays for next time
    else box.remove();
  }
}

export function clearErrors() {
  for (const field of document.querySelectorAll("#station .invalid")) clearField(field);
}

/** Mark each [field, reason] (reason null: marked only); the first is scrolled into view and focused. */
export function showErrors(problems) {
  clearErrors();
  problems.sort(([a], [b]) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  for (const [field, reason] of problems) {
    field.classList.add("invalid");
    const controls = field.querySelectorAll("input:not([type=checkbox]:checked), select"); // not the ticked boxes
    for (const node of [field, ...controls]) node.setAttribute("aria-invalid", "true");
    if (!reason) continue;
    let box = errorBox(field);
    if (!box) {
      box = el("p", { class: "field-error", id: `${field.id}-error` });
      if (field.matches(".question")) field.append(box);
      else (field.closest("label") || field).after(box);
    }
    box.textContent = reason;
    box.dataset.kind = "error";
    box.hidden = false;
  }
  const [first] = problems[0];
  const target = [first, ...first.querySelectorAll("[aria-invalid=true]")]
    .find((node) => node.matches("input, select, canvas"));
  (target || first).scrollIntoView({ block: "center" });
  errorBox(first)?.scrollIntoView({ block: "nearest" }); // the reason too
  (target || first).focus({ preventScroll: true });
  say(t("check_marked"), "error");
}

/** The API's refusal beside the fields it names (`fields`: API name -> field); otherwise as a message. */
export function showRefusal(error, fields = {}) {
  const named = Object.entries((error && error.fields) || {}).filter(([name]) => fields[name]);
  if (error && error.code === "validation_failed" && named.length) {
    // The API's reasons are English: in Chinese the field says "check this", the detail in its tooltip.
    showErrors(named.map(([name, reason]) => [fields[name], lang === "en" ? reason : t("check_this")]));
    if (lang !== "en") for (const [name, reason] of named) errorBox(fields[name]).title = reason;
  } else {
    refused(error);
  }
}

// A changed field is no longer marked (the next try checks it again).
for (const type of ["input", "change"]) {
  document.addEventListener(type, (event) => {
    const field = event.target.closest && event.target.closest(".invalid");
    if (field) clearField(field);
  });
}

// --- live state -------------------------------------------------------------------------------
export const state = { visits: new Map(), snapshot: null, online: false, sendFailing: false };
const listeners = [];
export function onChange(listener) {
  listeners.push(listener);
}
function notify() {
  for (const listener of listeners) listener(state);
}

const connection = $("connection");
const offlineBanner = $("offline");
function showStatus() {
  const pending = outbox.length;
  const offline = !state.online || state.sendFailing;
  connection.dataset.state = offline ? "offline" : "online";
  connection.textContent = offline ? t("resyncing") : t("online");
  offlineBanner.hidden = !offline;
  offlineBanner.textContent = t("offline");
  const pendingPill = $("pending");
  pendingPill.hidden = pending === 0;
  pendingPill.textContent = t("pending", { count: pending });
}

connectLive({
  site: site.id,
  view: "station",
  station,
  onError: (error) => say(describe(error), "error", { back: notAllowed(error) }),
  onSnapshot: (snapshot) => {
    syncClock(snapshot.at);
    state.snapshot = snapshot;
    state.visits = new Map(snapshot.visits.map((visit) => [visit.id, visit]));
    notify();
  },
  onDelta: (delta) => {
    const visit = delta.visit;
    if (!visit) {
      // A stock event (a delivery, a vial opened, waste): the pages that show stock read it again.
      window.dispatchEvent(new CustomEvent("siteflow:stock", { detail: delta.stock }));
      return;
    }
    if (delta.type === "injected") {
      window.dispatchEvent(new CustomEvent("siteflow:stock", { detail: null }));
    }
    if (["waiting", "called", "serving", "observing", "emergency"].includes(visit.state)) state.visits.set(visit.id, visit);
    else state.visits.delete(visit.id);
    if (state.snapshot) recount();
    notify();
  },
  onStatus: (status) => {
    state.online = status === "online";
    showStatus();
    if (state.online) flush();
  },
});

// Counts for the page between snapshots, from the visits it holds.
function recount() {
  const stations = state.snapshot.stations;
  for (const entry of Object.values(stations)) Object.assign(entry, { waiting: 0, called: 0, serving: 0 });
  let observing = 0;
  let heading = 0;
  for (const visit of state.visits.values()) {
    if (stations[visit.station] && ["waiting", "called", "serving"].includes(visit.state)) stations[visit.station][visit.state] += 1;
    if (visit.state === "observing") observing += 1;
    if (visit.station === "injection" && visit.state !== "waiting") heading += 1;
  }
  state.snapshot.observation.count = observing;
  state.snapshot.observation.heading = heading;
}

export function visitsAt(stationName, states) {
  return [...state.visits.values()].filter((visit) => visit.station === stationName && (!states || states.includes(visit.state)));
}

/** The person at this tablet's desk (called or being served), if any. */
export function atMyDesk() {
  return [...state.visits.values()].find(
    (visit) => visit.station === station && visit.desk === desk() && ["called", "serving"].includes(visit.state),
  );
}

// --- the outbox -------------------------------------------------------------------------------
// Every action is kept on the device until the server has answered it. A lost answer (no
// connection, server restarting) is retried with the same Idempotency-Key, so it is applied once.
const OUTBOX_KEY = `siteflow.outbox.${site.id}.${station}`;
const outbox = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
const callbacks = new Map();
let flushing = false;
let retryTimer = null;

function save() {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
  showStatus();
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/**
 * Send an action. `path` is below /api/v1/sites/<site>. Resolves with {ok, data} when the
 * server has answered (perhaps after retries); {ok: false, error} when it refused.
 */
export function send(path, body = {}, { undoable = false, done = null } = {}) {
  const item = { key: newKey(), path, body, at: Date.now() };
  outbox.push(item);
  save();
  const promise = new Promise((resolve) => callbacks.set(item.key, { resolve, undoable, done }));
  flush();
  return promise;
}

/** Ask the server something (a lookup): not an action, so not kept in the outbox. Resolves with
 * {ok, status, data}, or {ok: false, offline: true} when there is no answer. */
export async function ask(path, body = {}) {
  try {
    const response = await fetch(`${apiBase}${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "X-SiteFlow-Station": station },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  } catch (error) {
    return { ok: false, offline: true, data: {} };
  }
}

/** Read something (GET below /api/v1/sites/<site>): {ok, status, data}, or {ok: false, offline: true}. */
export async function read(path) {
  try {
    const response = await fetch(`${apiBase}${path}`, {
      credentials: "same-origin", headers: { Accept: "application/json", "X-SiteFlow-Station": station },
    });
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  } catch (error) {
    return { ok: false, offline: true, data: {} };
  }
}

async function attempt(item) {
  let response;
  try {
    response = await fetch(`${apiBase}${item.path}`, {
      method: "POST",
      credentials: "same-origin",
      // The station this page is for: another tab at another station does not move it.
      headers: { "Content-Type": "application/json", "Idempotency-Key": item.key, "X-CSRFToken": csrfToken(),
        "X-SiteFlow-Station": station },
      body: JSON.stringify(item.body),
    });
  } catch (error) {
    return null; // no answer: keep it and retry
  }
  if ([502, 503, 504].includes(response.status)) return null;
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { status: response.status, data };
}

async function flush() {
  if (flushing) return;
  flushing = true;
  clearTimeout(retryTimer);
  try {
    while (outbox.length) {
      const item = outbox[0];
      const answer = await attempt(item);
      if (answer === null) {
        state.sendFailing = true;
        showStatus();
        retryTimer = setTimeout(flush, RETRY_MS);
        return;
      }
      state.sendFailing = false;
      outbox.shift();
      save();
      const error = answer.status < 400 ? null : (answer.data && answer.data.error) || {};
      const callback = callbacks.get(item.key);
      callbacks.delete(item.key);
      if (!callback) {
        // Sent again after a reload: the page that asked is gone, the live view shows the result.
        if (error) refused(error);
        continue;
      }
      if (!error) {
        // Only the last action can be undone: a newer one ends the offer for the older.
        if (callback.undoable && answer.data.seq && answer.data.visit) offerUndo(answer.data, callback.done);
        else if (!item.path.endsWith("/undo")) withdrawUndo();
        callback.resolve({ ok: true, status: answer.status, data: answer.data });
      } else {
        callback.resolve({ ok: false, status: answer.status, error });
      }
    }
  } finally {
    flushing = false;
  }
}
window.addEventListener("online", flush);
showStatus();
if (outbox.length) flush(); // actions left from before a reload go out first, with their keys

// --- undo -------------------------------------------------------------------------------------
const toast = $("toast");
let toastTimer = null;
let undoTarget = null;

function offerUndo(data, text) {
  undoTarget = { visit: data.visit.id, seq: data.seq };
  $("toast-text").textContent = text || t("sent");
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
    undoTarget = null;
  }, UNDO_MS);
}

function withdrawUndo() {
  clearTimeout(toastTimer);
  toast.hidden = true;
  undoTarget = null;
}

$("undo").addEventListener("click", async () => {
  if (!undoTarget) return;
  const target = undoTarget;
  undoTarget = null;
  toast.hidden = true;
  const result = await send(`/visits/${target.visit}/undo`, { seq: target.seq });
  if (result.ok) say(t("undone"), "ok");
  else refused(result.error);
});

// --- small helpers for the pages ---------------------------------------------------------------
export function slipUrl(kind, visitId) {
  return root.dataset[kind === "ticket" ? "slipTicket" : "slipObservation"].replace("VISIT", encodeURIComponent(visitId));
}

export function localTime(iso) {
  return new Date(iso).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit", timeZone: site.timezone });
}

/** Ticket holder as a tablet may see them: masked name, last 4 ID digits, age, dose. */
export function personText(visit) {
  const person = visit.person || {};
  const last4 = person.document_last4 || (person.document_number || "").slice(-4);
  const bits = [person.name, last4 && `…${last4}`, person.age != null && t("age_n", { n: person.age }),
    t("dose_n", { n: visit.dose_number }), visit.priority && t("priority")];
  return bits.filter(Boolean).join(" · ");
}

/** Keep a scanner's "typing + Enter" from submitting the wrong form. */
export function onEnter(input, handler) {
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      handler(input.value.trim());
    }
  });
}
