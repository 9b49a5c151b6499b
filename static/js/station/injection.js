// Injection booth (接种): call next (held back while observation is full), the 三查七对一验证
// checklist as large tap targets, product and lot (the lots the site holds, with their doses
// left; a vial's barcode selects them; an expired or empty lot cannot be chosen), the arm,
// confirm; then the observation slip. Beside it, this booth's open vials with their doses and
// time left: open a vial, discard one (waste with its reason).
import {
  $, atMyDesk, clearErrors, clearField, desk, describe, el, lang, label, localTime, onChange, onEnter, read, say, send,
  showErrors, showRefusal, site, slipUrl, state, t,
} from "./common.js";
import { setUpQueue } from "./queue.js";
import { serverNow } from "../clock.js";

const form = $("injection");
const checklist = $("checklist");
const product = $("product");
const lot = $("lot");
const autoPrint = $("auto-print");
const AUTO_PRINT_KEY = "siteflow.autoPrint";
const PRODUCT_KEY = "siteflow.product";
autoPrint.checked = localStorage.getItem(AUTO_PRINT_KEY) === "1";
autoPrint.addEventListener("change", () => localStorage.setItem(AUTO_PRINT_KEY, autoPrint.checked ? "1" : "0"));

for (const item of site.checklist) {
  checklist.append(el("label", { class: "check" },
    el("input", { type: "checkbox", name: "checklist", value: item.code }), el("span", {}, label(item))));
}
function ticked() {
  return [...checklist.querySelectorAll("input:checked")].map((input) => input.value);
}
function showCount() {
  $("checklist-count").textContent = `${ticked().length} / ${site.checklist.length}`;
  if (ticked().length === site.checklist.length) clearField(checklist);
}
checklist.addEventListener("change", showCount);

// --- the stock: the lots the site holds now, with their open vials (GET /stock/lots) ------------
let lots = [];
let reads = 0;
let readTimer = null;

async function loadStock() {
  const mine = (reads += 1);
  const answer = await read("/stock/lots");
  if (mine !== reads) return; // a newer read is on its way
  if (!answer.ok) {
    showVialError(answer.offline ? t("stock_unavailable") : describe(answer.data && answer.data.error), "read");
    return;
  }
  if ($("vials-error").dataset.kind === "read") showVialError(null); // (a refusal stays until the next press)
  lots = answer.data.lots || [];
  renderStock();
}
/** Read the stock again (soon: a burst of events is one read). */
function refreshStock() {
  clearTimeout(readTimer);
  readTimer = setTimeout(loadStock, 100);
}
window.addEventListener("siteflow:stock", refreshStock);

function siteProduct(code) {
  return site.products.find((item) => item.code === code) || null;
}
function productName(code) {
  const item = siteProduct(code);
  return item ? (lang === "en" ? item.name : item.name_zh) : code;
}
function dosesText(n) {
  return n === 1 ? t("dose_left_one") : t("doses_left", { n });
}
function heldLot(name) {
  return lots.find((entry) => entry.lot === name) || null;
}
function openHere(entry) {
  return desk() ? entry.open_vials.filter((vial) => vial.desk === desk()) : [];
}
/** Whether this booth can draw a dose of the lot: its own open vial, or a vial still to open. */
function drawable(entry) {
  if (!entry.usable) return false;
  if (entry.doses_per_vial === 1) return entry.doses > 0;
  return entry.unopened_vials > 0 || openHere(entry).length > 0;
}
function offeredLots(code) {
  return lots.filter((entry) => entry.product === code && entry.usable);
}

function renderProducts() {
  const keep = product.value || localStorage.getItem(PRODUCT_KEY) || "";
  const codes = site.products.map((item) => item.code).filter((code) => offeredLots(code).length || code === product.value);
  const signature = codes.join("|");
  if (signature !== product.dataset.signature) {
    product.dataset.signature = signature;
    product.replaceChildren(el("option", { value: "" }, "—"), ...codes.map((code) => el("option", { value: code }, productName(code))));
  }
  product.value = codes.includes(keep) ? keep : "";
}

/** The lots of the chosen product; the lot chosen stays chosen, even once it is empty (marked so:
 * nothing the vaccinator entered disappears), and a product with one usable lot has it chosen. */
function renderLots() {
  const keep = lot.value;
  const options = offeredLots(product.value).map((entry) => ({
    value: entry.lot, disabled: !drawable(entry),
    text: `${entry.lot} · ${entry.expires_on} · ${dosesText(entry.doses)}${drawable(entry) ? "" : ` · ${t("lot_other_desks")}`}`,
  }));
  if (keep && !options.some((option) => option.value === keep)) {
    options.push({ value: keep, disabled: true, text: `${keep} · ${t("no_doses")}` });
  }
  const signature = options.map((option) => `${option.value}:${option.text}`).join("|");
  if (signature !== lot.dataset.signature) {
    lot.dataset.signature = signature;
    lot.replaceChildren(el("option", { value: "" }, "—"),
      ...options.map((option) => el("option", { value: option.value, disabled: option.disabled }, option.text)));
  }
  lot.value = keep;
  const usable = options.filter((option) => !option.disabled);
  if (!keep && usable.length === 1) lot.value = usable[0].value;
  showLot();
}

function fillLots() {
  lot.value = "";
  renderLots();
}

function showLot() {
  const info = $("lot-info");
  const chosen = lot.selectedOptions[0];
  if (lot.value && chosen && chosen.disabled) {
    info.textContent = t("lot_empty", { lot: lot.value });
    info.dataset.kind = "error";
    return;
  }
  if (lot.classList.contains("invalid") || product.classList.contains("invalid")) return; // its reason stays
  const entry = heldLot(lot.value);
  if (!product.value || !entry) {
    info.textContent = "";
    info.dataset.kind = "";
    return;
  }
  // The lot's doses, and this booth's open vial of it (the option's text may be cut off on a tablet).
  const [vial] = openHere(entry);
  const open = vial ? ` · ${t("vial_n", { n: vial.vial })}: ${dosesText(vial.doses_left)}` : "";
  info.textContent = `${t("lot_selected", { product: productName(entry.product), lot: entry.lot })} · ${entry.expires_on} · ${dosesText(entry.doses)}${open}`;
  info.dataset.kind = "ok";
}
product.addEventListener("change", () => {
  clearField(lot);
  fillLots();
  showDoseRoute();
});
lot.addEventListener("change", () => {
  clearField(lot); // (before its reason would be kept)
  showLot();
});

function lotRefused(text) {
  say(text, "error");
  $("lot-info").textContent = text;
  $("lot-info").dataset.kind = "error";
}

// A scanned vial: its barcode (or the lot number itself) picks the product and a lot the site holds.
onEnter($("vial"), (code) => {
  $("vial").value = "";
  let listed = null;
  for (const item of site.products) {
    for (const entry of item.lots) {
      if (entry.barcode === code || entry.lot === code) listed = entry;
    }
  }
  if (listed && listed.expired) {
    lotRefused(t("lot_expired", { lot: listed.lot, date: listed.expires_on }));
    return;
  }
  const name = listed ? listed.lot : code;
  const entry = heldLot(name);
  if (!entry && !listed) {
    say(t("lot_unknown", { code }), "error");
    return;
  }
  if (!entry) {
    lotRefused(t("lot_none_held", { lot: name }));
    return;
  }
  if (!entry.usable && entry.doses > 0) {
    lotRefused(t("lot_expired", { lot: entry.lot, date: entry.expires_on }));
    return;
  }
  if (!drawable(entry)) {
    lotRefused(t("lot_empty", { lot: entry.lot }));
    return;
  }
  product.value = entry.product;
  renderProducts();
  product.value = entry.product;
  lot.value = "";
  renderLots();
  lot.value = entry.lot;
  clearField(lot);
  clearField(product);
  showLot();
  showDoseRoute();
  say(t("lot_selected", { product: productName(entry.product), lot: entry.lot }), "ok");
});

// --- this booth's open vials ----------------------------------------------------------------------
const WARN_MS = 30 * 60000;
const BAD_MS = 10 * 60000;
let ticking = [];

/** A line under the panel's buttons: why a press was refused, or that the stock could not be read. */
function showVialError(text, kind = "refused") {
  const box = $("vials-error");
  box.hidden = !text;
  box.textContent = text || "";
  box.dataset.kind = text ? kind : "";
}

/** Time left: "h:mm left" from an hour up, "n min left" below. */
function timeLeft(ms) {
  const minutes = Math.ceil(ms / 60000);
  if (minutes < 60) return t("leave_in", { minutes });
  return t("time_left", { time: `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}` });
}

function tick() {
  const now = serverNow();
  for (const item of ticking) {
    const left = item.at - now;
    item.row.dataset.level = left <= BAD_MS ? "bad" : left <= WARN_MS ? "warn" : "ok";
    item.countdown.textContent = left > 0 ? timeLeft(left) : t("time_up");
    if (left <= 0 && !item.over) {
      item.over = true;
      refreshStock(); // the server counts its doses as wasted and closes it
    }
  }
}

function renderVials() {
  const here = desk();
  const mine = [];
  const elsewhere = [];
  for (const entry of lots) {
    for (const vial of entry.open_vials) (here && vial.desk === here ? mine : elsewhere).push({ entry, vial });
  }
  ticking = [];
  $("vials").replaceChildren(...mine.map(({ entry, vial }) => {
    const countdown = el("span", { class: "countdown" });
    const row = el("li", { class: "vial", dataset: { lot: entry.lot, vial: String(vial.vial) } },
      el("span", { class: "vial-what" }, el("strong", {}, t("lot_n", { lot: entry.lot })), " · ", t("vial_n", { n: vial.vial }),
        el("small", {}, productName(entry.product))),
      el("strong", { class: "vial-doses" }, dosesText(vial.doses_left)),
      el("span", { class: "vial-time" }, countdown, el("small", { class: "vial-discard" }, t("discard_at", { time: localTime(vial.discard_at) }))),
      el("button", { type: "button", class: "danger discard-vial", onclick: () => openDiscard(entry, vial) }, t("discard_vial")));
    ticking.push({ row, countdown, at: Date.parse(vial.discard_at), over: false });
    return row;
  }));
  $("vials-none").hidden = mine.length > 0;
  $("vials-none").textContent = here ? t("no_open_vial") : t("choose_desk");
  const doses = elsewhere.reduce((sum, { vial }) => sum + vial.doses_left, 0);
  $("vials-elsewhere").hidden = elsewhere.length === 0;
  $("vials-elsewhere").textContent = t("vials_elsewhere", { count: elsewhere.length, doses });
  const buttons = [];
  if (here) {
    for (const entry of lots) {
      if (entry.usable && entry.doses_per_vial > 1 && entry.unopened_vials > 0 && !openHere(entry).length) {
        buttons.push(el("button", { type: "button", class: "open-vial", dataset: { lot: entry.lot }, onclick: (event) => openVial(entry, event.currentTarget) },
          t("open_vial", { lot: entry.lot })));
      }
    }
  }
  if (lots.some((entry) => entry.usable && entry.unopened_vials > 0)) {
    buttons.push(el("button", { type: "button", class: "danger", id: "discard-unopened", onclick: () => openDiscard(null, null) }, t("discard_unopened")));
  }
  $("vial-actions").replaceChildren(...buttons);
  tick();
}

function renderStock() {
  renderProducts();
  renderLots();
  renderVials();
}

async function openVial(entry, button) {
  const here = desk();
  if (!here) {
    showVialError(t("choose_desk"));
    return;
  }
  button.disabled = true;
  const result = await send("/stock/vials", { lot: entry.lot, desk: here });
  button.disabled = false;
  if (!result.ok) {
    showVialError(t("failed", { message: describe(result.error) }));
    refreshStock();
    return;
  }
  showVialError(null);
  const after = result.data.lot;
  const index = lots.findIndex((item) => item.lot === after.lot);
  if (index >= 0) lots[index] = { ...after, usable: lots[index].usable };
  const vial = after.open_vials.filter((item) => item.desk === here).pop();
  if (vial) say(t("vial_opened", { n: vial.vial, lot: after.lot, time: localTime(vial.discard_at) }), "ok");
  renderStock();
  refreshStock();
}

// --- discarding: one open vial (all its doses), or one unopened vial -------------------------------
const discardDialog = $("discard-dialog");
const discardForm = $("discard");
const discardLot = $("discard-lot");
let discarding = null;

function discardDoses() {
  if (discarding.vial) return discarding.vial.doses_left;
  const entry = heldLot(discardLot.value);
  return entry ? entry.doses_per_vial : 0;
}
function showDiscardTitle() {
  const { entry, vial } = discarding;
  $("discard-title").textContent = vial
    ? t("discard_title_open", { n: vial.vial, lot: entry.lot, left: dosesText(vial.doses_left) })
    : t("discard_title_unopened");
}

function openDiscard(entry, vial) {
  discarding = { entry, vial };
  discardForm.reset();
  clearErrors();
  $("discard-error").hidden = true;
  $("discard-lot-field").hidden = Boolean(vial);
  if (!vial) {
    const choices = lots.filter((item) => item.usable && item.unopened_vials > 0);
    discardLot.replaceChildren(el("option", { value: "" }, "—"),
      ...choices.map((item) => el("option", { value: item.lot }, `${item.lot} · ${productName(item.product)}`)));
    if (choices.length === 1) discardLot.value = choices[0].lot;
  }
  showDiscardTitle();
  discardDialog.showModal();
}
$("discard-cancel").addEventListener("click", () => discardDialog.close());

discardForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const reason = discardForm.querySelector("input[name=reason]:checked");
  const name = discarding.vial ? discarding.entry.lot : discardLot.value;
  const problems = [];
  if (!name) problems.push([discardLot, t("lot_first")]);
  if (!reason) problems.push([$("discard-reason"), t("reason_first")]);
  if (problems.length) {
    showErrors(problems.slice(0, 1));
    return;
  }
  const doses = discardDoses();
  const body = { lot: name, doses, reason: reason.value };
  if (discarding.vial) body.vial = discarding.vial.vial;
  if (desk()) body.desk = desk();
  $("discard-confirm").disabled = true;
  const result = await send("/stock/waste", body);
  $("discard-confirm").disabled = false;
  if (!result.ok) {
    const box = $("discard-error");
    box.textContent = t("failed", { message: describe(result.error) });
    box.hidden = false;
    refreshStock();
    return;
  }
  discardDialog.close();
  say(t("discarded", { doses, lot: name }), "ok");
  refreshStock();
});

// --- the person at the booth ----------------------------------------------------------------------
function showDoseRoute() {
  const visit = atMyDesk();
  const chosen = siteProduct(product.value);
  const route = site.routes.find((item) => item.code === (chosen ? chosen.route : "IM"));
  $("dose-route").textContent = visit ? `${t("dose_n", { n: visit.dose_number })} · ${route ? label(route) : ""}` : "";
}

function reset() {
  form.reset();
  clearErrors();
  product.value = "";
  lot.value = "";
  renderProducts(); // the product used last, when the site still holds some of it
  fillLots();
  showCount();
}

setUpQueue({
  blocked: (state) => {
    if (!state.snapshot) return null;
    const { count, heading, capacity } = state.snapshot.observation;
    return count + heading >= capacity ? t("observation_full", { used: count + heading, seats: capacity }) : null;
  },
  onPerson: (visit) => {
    form.hidden = !visit;
    if (visit) {
      $("done").hidden = true;
      reset();
      showDoseRoute();
    }
  },
});

// The desk chosen (or changed), and a new snapshot (after a reconnection): the stock again.
let shownDesk = null;
let shownSnapshot = null;
onChange(() => {
  if (state.snapshot !== shownSnapshot) {
    shownSnapshot = state.snapshot;
    refreshStock();
  }
  if (desk() !== shownDesk) {
    shownDesk = desk();
    renderStock();
  }
});
loadStock();
setInterval(tick, 1000);

function printSlip(visitId) {
  const frame = $("print-frame");
  frame.src = `${slipUrl("observation", visitId)}#print`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const visit = atMyDesk();
  if (!visit) return;
  const done = ticked();
  const chosen = siteProduct(product.value);
  const arm = form.querySelector("input[name=arm]:checked");
  // Every reason not to go on, beside its field: the unticked checks, product and lot, the arm.
  const problems = [...checklist.querySelectorAll(".check:not(:has(input:checked))")].map((item) => [item, null]);
  if (problems.length) {
    problems.push([checklist, t("checklist_incomplete", { done: done.length, total: site.checklist.length })]);
  }
  const emptyLot = lot.value && lot.selectedOptions[0] && lot.selectedOptions[0].disabled;
  if (!chosen || !lot.value) problems.push([chosen ? lot : product, t("choose_lot")]);
  else if (emptyLot) problems.push([lot, t("lot_empty", { lot: lot.value })]);
  if (!arm) problems.push([$("arm"), t("choose_arm")]);
  if (problems.length) {
    showErrors(problems);
    return;
  }
  localStorage.setItem(PRODUCT_KEY, chosen.code);
  const body = {
    desk: desk(), product: chosen.code, lot: lot.value, dose_number: visit.dose_number,
    site: arm.value, route: chosen.route, checklist: done,
  };
  const result = await send(`/visits/${visit.id}/injection`, body);
  refreshStock(); // a dose drawn, or the lot found empty
  if (!result.ok) {
    if (result.error && result.error.code === "lot_empty") {
      // The form stays as it was; the lot is marked, and named, with what to do.
      const text = t("lot_empty", { lot: body.lot });
      showErrors([[lot, text]]);
      say(t("failed", { message: text }), "error");
      return;
    }
    showRefusal(result.error, { checklist, product, route: product, lot, site: $("arm") });
    return;
  }
  const after = result.data.visit;
  const text = t("injected", { ticket: after.ticket, time: localTime(after.observation.leave_at) });
  say(text, "ok");
  $("done").hidden = false;
  $("done-text").textContent = text;
  $("print-observation").href = slipUrl("observation", after.id);
  if (autoPrint.checked) printSlip(after.id);
});
