// Injection booth (接种): call next (held back while observation is full), the 三查七对一验证
// checklist as large tap targets, product and lot (a vial's barcode selects them; an expired
// lot cannot be chosen), the arm, confirm; then the observation slip.
import {
  $, atMyDesk, clearErrors, clearField, desk, el, label, lang, localTime, onEnter, say, send, showErrors, showRefusal, site, slipUrl, t,
} from "./common.js";
import { setUpQueue } from "./queue.js";

const form = $("injection");
const checklist = $("checklist");
const product = $("product");
const lot = $("lot");
const autoPrint = $("auto-print");
const AUTO_PRINT_KEY = "siteflow.autoPrint";
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

function productName(item) {
  return lang === "en" ? item.name : item.name_zh;
}
for (const item of site.products) {
  product.append(el("option", { value: item.code }, productName(item)));
}
function fillLots() {
  const chosen = site.products.find((item) => item.code === product.value);
  lot.replaceChildren(el("option", { value: "" }, "—"));
  for (const entry of chosen ? chosen.lots : []) {
    lot.append(el("option", { value: entry.lot, disabled: entry.expired },
      `${entry.lot} · ${entry.expires_on}${entry.expired ? ` · ${t("expired")}` : ""}`));
  }
  const usable = chosen ? chosen.lots.filter((entry) => !entry.expired) : [];
  if (usable.length === 1) lot.value = usable[0].lot;
  showLot();
}
function showLot() {
  const chosen = site.products.find((item) => item.code === product.value);
  $("lot-info").textContent = chosen && lot.value ? t("lot_selected", { product: productName(chosen), lot: lot.value }) : "";
  $("lot-info").dataset.kind = lot.value ? "ok" : "";
}
product.addEventListener("change", fillLots);
lot.addEventListener("change", showLot);

// A scanned vial: its barcode (or the lot number itself) picks the product and lot.
onEnter($("vial"), (code) => {
  $("vial").value = "";
  for (const item of site.products) {
    for (const entry of item.lots) {
      if (entry.barcode === code || entry.lot === code) {
        if (entry.expired) {
          say(t("lot_expired", { lot: entry.lot, date: entry.expires_on }), "error");
          $("lot-info").textContent = t("lot_expired", { lot: entry.lot, date: entry.expires_on });
          $("lot-info").dataset.kind = "error";
          return;
        }
        product.value = item.code;
        fillLots();
        lot.value = entry.lot;
        showLot();
        say(t("lot_selected", { product: productName(item), lot: entry.lot }), "ok");
        return;
      }
    }
  }
  say(t("lot_unknown", { code }), "error");
});

function reset() {
  form.reset();
  clearErrors();
  product.value = localStorage.getItem("siteflow.product") || "";
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
      const chosen = site.products.find((item) => item.code === product.value);
      $("dose-route").textContent = `${t("dose_n", { n: visit.dose_number })} · ${chosen ? chosen.route : "IM"}`;
    }
  },
});

function printSlip(visitId) {
  const frame = $("print-frame");
  frame.src = `${slipUrl("observation", visitId)}#print`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const visit = atMyDesk();
  if (!visit) return;
  const done = ticked();
  const chosen = site.products.find((item) => item.code === product.value);
  const arm = form.querySelector("input[name=arm]:checked");
  // Every reason not to go on, beside its field: the unticked checks, product and lot, the arm.
  const problems = [...checklist.querySelectorAll(".check:not(:has(input:checked))")].map((item) => [item, null]);
  if (problems.length) {
    problems.push([checklist, t("checklist_incomplete", { done: done.length, total: site.checklist.length })]);
  }
  if (!chosen || !lot.value) problems.push([chosen ? lot : product, t("choose_lot")]);
  if (!arm) problems.push([$("arm"), t("choose_arm")]);
  if (problems.length) {
    showErrors(problems);
    return;
  }
  localStorage.setItem("siteflow.product", chosen.code);
  const body = {
    desk: desk(), product: chosen.code, lot: lot.value, dose_number: visit.dose_number,
    site: arm.value, route: chosen.route, checklist: done,
  };
  const result = await send(`/visits/${visit.id}/injection`, body);
  if (!result.ok) {
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
