// Check-in (登记): a scanner or ID-card reader types the number into the focused field; the
// number is checked as it arrives; a green health code gets a ticket, any other is turned away.
import { $, ask, clearErrors, onEnter, say, send, showErrors, showRefusal, site, slipUrl, t } from "./common.js";
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
onEnter(number, () => {
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
  const visit = result.data.visit;
  const refused = visit.state === "turned_away" ? body.health_code : null;
  let code = phoneCode(result.data);
  if (!code && !refused && visit.ticket) {
    // A repeat of a check-in whose answer was lost shows no code (it was shown once): ask for a new one.
    const fresh = await ask(`/visits/${encodeURIComponent(visit.id)}/ticket-code`);
    code = fresh.ok ? phoneCode(fresh.data) : null;
  }
  showResult(visit, refused, code);
  say(refused ? t("turned_away", { colour: t(refused) }) : `${t("ticket_for")} ${visit.ticket}`, refused ? "error" : "ok");
  form.reset();
  clearErrors();
  hint.textContent = "";
  $("birth-date-row").hidden = true;
  number.focus();
});
