// Observation (留观): everyone observing with a live countdown (ready to leave highlighted),
// release, the adverse-event form, and the emergency area with its reporting clocks.
import { $, describe, el, label, localTime, onChange, personText, refused, say, send, site, state, t } from "./common.js";
import { clock, observing, release, remaining, setUpScan } from "./release.js";
import { serverNow, siteTime } from "../clock.js";

const board = $("board");
const emergencyList = $("emergency");
const dialog = $("aefi-dialog");
const form = $("aefi");
let aefiVisit = null;

for (const item of site.aefi_serious_criteria) {
  $("aefi-criteria").append(el("label", { class: "choice" }, el("input", { type: "checkbox", name: "criteria", value: item.code }), ` ${label(item)}`));
}
for (const radio of form.querySelectorAll("input[name=severity]")) {
  radio.addEventListener("change", () => { $("aefi-criteria").hidden = form.severity.value !== "serious"; });
}

function openAefi(visit) {
  aefiVisit = visit;
  form.reset();
  $("aefi-criteria").hidden = true;
  $("aefi-error").textContent = "";
  $("aefi-ticket").textContent = visit.ticket;
  $("aefi-onset").value = siteTime(serverNow(), "en-GB", site.timezone); // hh:mm at the site, like every time shown
  dialog.showModal();
}
$("aefi-cancel").addEventListener("click", () => dialog.close());

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const visit = aefiVisit;
  if (!visit) return;
  const symptoms = [...form.querySelectorAll("input[name=symptom]:checked")].map((input) => input.value);
  const other = $("aefi-other").value.trim();
  if (other) symptoms.push(other);
  if (!symptoms.length) {
    $("aefi-error").textContent = t("symptoms_needed");
    return;
  }
  // The time typed is the site's time of day: so many minutes before the site's "now" (a time
  // after now was yesterday), at the start of its minute.
  const minuteOfDay = (text) => { const [h, m] = text.split(":").map(Number); return h * 60 + m; };
  const current = new Date(serverNow());
  const minutesAgo = (minuteOfDay(siteTime(current, "en-GB", site.timezone)) - minuteOfDay($("aefi-onset").value || "00:00") + 1440) % 1440;
  let onset = new Date(Math.floor((current.getTime() - minutesAgo * 60000) / 60000) * 60000);
  // The form shows minutes: within the minute of the injection, the onset is the injection itself.
  const injected = new Date(visit.observation.started_at);
  if (onset < injected && injected - onset < 60000) onset = new Date(injected.getTime() + 1); // +1 ms: microseconds
  const body = {
    symptoms,
    onset_at: onset.toISOString(),
    severity: form.severity.value,
    serious_criteria: [...form.querySelectorAll("input[name=criteria]:checked")].map((input) => input.value),
    actions: $("aefi-actions").value.trim(),
    outcome: form.outcome.value || null,
  };
  $("aefi-save").disabled = true;
  const result = await send(`/visits/${visit.id}/aefi`, body);
  $("aefi-save").disabled = false;
  if (!result.ok) {
    $("aefi-error").textContent = describe(result.error);
    return;
  }
  dialog.close();
  say(t("aefi_recorded", { ticket: visit.ticket }), "ok");
});

async function resolve(visit, outcome) {
  const result = await send(`/visits/${visit.id}/aefi-outcome`, { outcome });
  if (!result.ok) refused(result.error);
}

function render() {
  const people = observing();
  $("observing-count").textContent = String(people.length);
  board.replaceChildren(...people.map((visit) => {
    const left = remaining(visit);
    return el("li", { class: left ? "" : "ready", dataset: { visit: visit.id } },
      el("strong", { class: "ticket" }, visit.ticket),
      el("span", { class: "who" }, personText(visit), visit.observation.extended ? ` · ${t("extended")}` : ""),
      el("span", { class: "countdown" }, left ? clock(left) : t("ok_to_leave")),
      el("button", { type: "button", class: left ? "" : "primary", onclick: () => release(visit) }, t("release")),
      el("button", { type: "button", class: "danger", onclick: () => openAefi(visit) }, t("report_aefi")));
  }));
  const emergency = [...state.visits.values()].filter((visit) => visit.state === "emergency");
  $("emergency-count").textContent = String(emergency.length);
  emergencyList.replaceChildren(...emergency.map((visit) => {
    const open = visit.aefi.filter((report) => !report.outcome).pop() || visit.aefi[visit.aefi.length - 1];
    const due = open && open.report_due_at;
    const overdue = due && Date.parse(due) < serverNow();
    return el("li", { class: overdue ? "overdue" : "", dataset: { visit: visit.id } },
      el("strong", { class: "ticket" }, visit.ticket),
      el("span", { class: "who" }, personText(visit), open ? ` · ${t(open.severity)}` : ""),
      el("span", { class: "countdown" }, due ? t(overdue ? "report_overdue" : "report_due", { time: localTime(due) }) : ""),
      el("button", { type: "button", onclick: () => resolve(visit, "recovered") }, t("recovered")),
      el("button", { type: "button", class: "danger", onclick: () => resolve(visit, "transferred") }, t("transferred")));
  }));
}

setUpScan();
onChange(render);
setInterval(render, 1000);
