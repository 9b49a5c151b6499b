// Check-in (登记): a scanner or ID-card reader types the number into the focused field; the
// number is checked as it arrives; a green health code gets a ticket, any other is turned away.
// A booked person (预约) is found by their booking's code (typed, or scanned from the QR of their
// confirmation, into either field) or by their ID number, confirmed against their ID card, and
// checked in by the code: the booking gives the name, document, phone and dose.
import { serverNow } from "../clock.js";
import { bookingCode, isAddress } from "./booking-code.js";
import { $, ask, clearErrors, describe, el, lang, onEnter, refused, say, send, showErrors, showRefusal, site, slipUrl,
  t } from "./common.js";
import { checkResidentId } from "./resident-id.js";

const form = $("checkin");
const number = $("document_number");
const hint = $("document_hint");
const today = new Date(`${site.today}T00:00:00`);

function documentType() {
  return form.querySelector("input[name=document_type]:checked").value;
}

function checkDocument() {
  const value = number.value.trim().toUpperCase();
  let verdict;
  if (documentType() === "passport") {
    verdict = /^[A-Z0-9]{5,20}$/.test(value) ? { ok: true, text: "" } : { ok: false, text: t("passport_bad") };
  } else {
    verdict = checkResidentId(value, today);
    verdict.text = verdict.ok ? t("id_ok", { born: verdict.born }) : t(verdict.problem, verdict.vars);
  }
  hint.textContent = value ? verdict.text : "";
  hint.dataset.kind = !value || verdict.problem === "id_short" ? "" : verdict.ok ? "ok" : "error";
  number.setAttribute("aria-invalid", value && !verdict.ok ? "true" : "false");
  return verdict.ok;
}

number.addEventListener("input", checkDocument);
for (const radio of form.querySelectorAll("input[name=document_type]")) {
  radio.addEventListener("change", () => {
    $("birth-date-row").hidden = documentType() !== "passport";
    checkDocument();
  });
}
onEnter(number, (value) => {
  // A confirmation's QR scanned while the cursor is here: a booking code, not an ID number.
  const code = bookingCode(value, { strict: true });
  if (code && (documentType() === "resident_id" ? !checkDocument() : isAddress(value))) {
    number.value = "";
    checkDocument();
    bookingInput.value = code;
    lookUp({ code }, bookingInput);
    return;
  }
  if (checkDocument()) $("name").focus(); // a card reader ends with Enter: go on to the name
});
onEnter($("name"), () => $("phone").focus());
onEnter($("phone"), () => form.requestSubmit());

/** The phone ticket's code from the check-in answer (its URL ends /t/<code>): the slip prints it as a QR. */
function phoneCode(answer) {
  const url = answer && answer.ticket_page && answer.ticket_page.url;
  return url ? url.slice(url.lastIndexOf("/t/") + 3) : null;
}

function showResult(visit, refusedColour, code) {
  $("result-empty").hidden = true;
  $("result-body").hidden = false;
  $("result-ticket").textContent = visit.ticket || "—";
  $("result-person").textContent = [visit.person.name, `…${visit.person.document_last4 || ""}`].join(" · ");
  const refused = $("result-refused");
  refused.hidden = !refusedColour;
  refused.textContent = refusedColour ? t("turned_away", { colour: t(refusedColour) }) : "";
  const print = $("print-ticket");
  print.hidden = !visit.ticket;
  print.href = slipUrl("ticket", visit.id) + (code ? `?code=${encodeURIComponent(code)}` : "");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (booking) {
    checkInBooking();
    return;
  }
  const problems = [];
  if (!checkDocument()) {
    hint.textContent = hint.textContent || t("id_needed");
    hint.dataset.kind = "error";
    problems.push([number, null]); // the reason is the number's own hint, right below it
  }
  if (!$("name").value.trim()) problems.push([$("name"), t("name_needed")]);
  if (problems.length) {
    showErrors(problems);
    return;
  }
  const data = new FormData(form);
  const body = {
    name: (data.get("name") || "").trim(),
    document_type: documentType(),
    document_number: number.value.trim().toUpperCase(),
    phone: (data.get("phone") || "").trim() || null,
    dose_number: Number(data.get("dose_number")),
    health_code: data.get("health_code"),
    priority: data.get("priority") === "on",
  };
  if (body.document_type === "passport" && data.get("birth_date")) body.birth_date = data.get("birth_date");
  const submit = $("submit");
  submit.disabled = true;
  const result = await send("/visits", body);
  submit.disabled = false;
  if (!result.ok) {
    const code = result.error && result.error.code;
    const elsewhere = code === "checked_in_elsewhere" && result.error.fields.site;
    if (code === "duplicate_visit" || elsewhere) {
      showErrors([[number, code === "duplicate_visit" ? t("duplicate") : t("elsewhere", { site: elsewhere })]]);
    } else {
      showRefusal(result.error, { name: $("name"), phone: $("phone"), birth_date: $("birth_date"),
        document_number: number, document_type: $("document-type") });
    }
    return;
  }
  await checkedIn(result.data, body.health_code);
});

/** After a check-in (walk-in or booked): the ticket shown, the form ready for the next person. */
async function checkedIn(answer, healthCode) {
  const visit = answer.visit;
  const refusedColour = visit.state === "turned_away" ? healthCode : null;
  let code = phoneCode(answer);
  if (!code && !refusedColour && visit.ticket) {
    // A repeat of a check-in whose answer was lost shows no code (it was shown once): ask for a new one.
    const fresh = await ask(`/visits/${encodeURIComponent(visit.id)}/ticket-code`);
    code = fresh.ok ? phoneCode(fresh.data) : null;
  }
  showResult(visit, refusedColour, code);
  let message = `${t("ticket_for")} ${visit.ticket}`;
  if (refusedColour) message = t("turned_away", { colour: t(refusedColour) });
  else if (answer.appointment_code) message += ` · ${t("booking_arrived_now", { code: answer.appointment_code })}`;
  say(message, refusedColour ? "error" : "ok");
  closeBooking();
  form.reset();
  clearErrors();
  hint.textContent = "";
  $("birth-date-row").hidden = true;
  number.focus();
}

// --- bookings ---------------------------------------------------------------------------------
const bookingInput = $("booking_code");
const panel = $("booking-panel");
let booking = null; // the booking being confirmed, while the panel is open

/** Now at the site, as local "YYYY-MM-DDTHH:MM" (the bookings' slot_start), by the server's clock. */
function siteNow() {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: site.timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23" }).formatToParts(new Date(serverNow())).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** Minutes since the epoch of a local "YYYY-MM-DDTHH:MM" (read as UTC: only differences count). */
function minutesOf(local) {
  return Date.parse(`${local}:00Z`) / 60000;
}

function clock(minutes) {
  const day = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(day / 60)).padStart(2, "0")}:${String(day % 60).padStart(2, "0")}`;
}

/** When the slot is, against now: late or early arrivals check in all the same, but the desk sees it. */
function slotTiming(found) {
  const start = minutesOf(found.slot_start);
  const end = start + found.slot_minutes;
  const now = siteNow();
  const slot = `${clock(start)}–${clock(end)}`;
  const day = found.slot_start.slice(0, 10);
  if (day !== now.slice(0, 10)) return { slot: `${day} ${slot}`, kind: "warn", text: t("booking_other_day", { date: day }) };
  const minutes = minutesOf(now);
  if (minutes < start) return { slot, kind: minutes < start - 15 ? "warn" : "ok", text: t("booking_early", { minutes: start - minutes }) };
  if (minutes >= end) return { slot, kind: "warn", text: t("booking_late", { minutes: minutes - end }) };
  return { slot, kind: "ok", text: t("booking_on_time") };
}

function openBooking(found) {
  booking = found;
  const person = found.person;
  const timing = slotTiming(found);
  $("booking-title").textContent = t("booking_title", { code: found.code });
  const facts = [
    [t("booking_slot"), el("span", { class: "slot", id: "booking-slot" }, timing.slot)],
    [t("booking_name"), el("span", { id: "booking-name" }, person.name)],
    [t("booking_document"), el("span", { id: "booking-document" },
      `${t(`document_${person.document_type}`)} ${person.document_number}`)],
    [t("booking_dose"), el("span", { id: "booking-dose" }, t("dose_label", { n: found.dose_number }))],
  ];
  if (found.group) facts.push([t("booking_group"), el("span", { id: "booking-group" }, found.group)]);
  $("booking-facts").replaceChildren(...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
  const when = $("booking-when");
  when.textContent = timing.text;
  when.dataset.kind = timing.kind;
  $("booking-confirmation").href = panel.dataset.confirmation.replace("CODE", encodeURIComponent(found.code)) +
    `?lang=${lang === "en" ? "en" : "zh_Hans"}`;
  clearErrors();
  panel.hidden = false;
  $("walkin-fields").hidden = true;
  $("submit").hidden = true;
  $("submit-booking").hidden = false;
  bookingInput.value = "";
  say(t("booking_confirm"), "info");
  panel.scrollIntoView({ block: "nearest" });
  panel.focus({ preventScroll: true });
}

function closeBooking() {
  booking = null;
  panel.hidden = true;
  $("walkin-fields").hidden = false;
  $("submit").hidden = false;
  $("submit-booking").hidden = true;
  clearErrors();
}

/** Ask for a booking by its code or by a document; a refusal is written beside `field`. */
async function lookUp(body, field) {
  const button = $("booking-lookup");
  button.disabled = true;
  const answer = await ask("/appointments/lookup", body);
  button.disabled = false;
  if (answer.offline) {
    showErrors([[field, t("booking_offline")]]);
    return;
  }
  if (!answer.ok) {
    const error = (answer.data && answer.data.error) || {};
    if (error.code === "unknown_appointment") {
      showErrors([[field, body.code ? t("booking_unknown", { code: body.code }) : t("booking_none_today")]]);
    } else if (error.code === "validation_failed") {
      showErrors([[field, describe(error)]]);
    } else {
      refused(error);
    }
    return;
  }
  const found = answer.data.appointment;
  if (found.status === "arrived" || found.status === "cancelled") {
    showErrors([[field, t(`booking_${found.status}`, { code: found.code, name: found.person.name })]]);
    return;
  }
  openBooking(found);
}

function findBooking() {
  const typed = bookingInput.value.trim();
  if (typed) {
    const code = bookingCode(typed);
    if (code) lookUp({ code }, bookingInput);
    else showErrors([[bookingInput, t("booking_unknown", { code: typed.slice(0, 40) })]]);
    return;
  }
  if (number.value.trim()) {
    if (checkDocument()) {
      lookUp({ document_type: documentType(), document_number: number.value.trim().toUpperCase() }, number);
    } else {
      showErrors([[number, null]]); // the number's own hint says what is wrong
    }
    return;
  }
  showErrors([[bookingInput, t("booking_code_needed")]]);
}

$("booking-lookup").addEventListener("click", findBooking);
onEnter(bookingInput, findBooking);
$("booking-cancel").addEventListener("click", () => {
  closeBooking();
  say("", "info");
  number.focus();
});

const BOOKING_REFUSALS = { appointment_arrived: "booking_arrived_short", appointment_cancelled: "booking_cancelled_short",
  duplicate_visit: "duplicate" };

async function checkInBooking() {
  const data = new FormData(form);
  const body = { appointment_code: booking.code, health_code: data.get("health_code"),
    priority: data.get("priority") === "on" };
  const submit = $("submit-booking");
  submit.disabled = true;
  const result = await send("/visits", body);
  submit.disabled = false;
  if (result.ok) {
    await checkedIn(result.data, body.health_code);
    return;
  }
  const error = result.error || {};
  if (BOOKING_REFUSALS[error.code]) {
    showErrors([[panel, t(BOOKING_REFUSALS[error.code])]]);
  } else if (error.code === "checked_in_elsewhere") {
    showErrors([[panel, t("elsewhere", { site: (error.fields || {}).site || "" })]]);
  } else if (error.code === "unknown_appointment") {
    showErrors([[panel, t("booking_unknown", { code: booking.code })]]);
  } else if (error.code === "appointment_other_day") {
    showErrors([[panel, t("booking_not_today", { date: (error.fields || {}).day || "" })]]);
  } else {
    showRefusal(error, { health_code: form.querySelector("fieldset.health"), appointment_code: panel });
  }
}
