// Consent desk (知情同意 / 健康询问): call next, the screening questions as yes/no toggles, the
// signature pad, and the outcome: eligible, deferred with a reason, or refused.
import { $, atMyDesk, desk, describe, el, label, say, send, site, t } from "./common.js";
import { setUpQueue } from "./queue.js";
import { SignaturePad } from "./signature.js";

const form = $("consent");
const questions = $("questions");
for (const question of site.screening_questions) {
  questions.append(el("div", { class: "question" },
    el("span", {}, label(question)),
    el("span", { class: "yesno", dataset: { question: question.code } },
      el("label", {}, el("input", { type: "radio", name: `q-${question.code}`, value: "no" }), ` ${t("no")}`),
      el("label", {}, el("input", { type: "radio", name: `q-${question.code}`, value: "yes" }), ` ${t("yes")}`))));
}
const reasons = $("deferral-reason");
for (const reason of site.deferral_reasons) reasons.append(el("option", { value: reason.code }, label(reason)));

const pad = new SignaturePad($("signature"));
$("clear-signature").addEventListener("click", () => pad.clear());

function answers() {
  const result = {};
  for (const question of site.screening_questions) {
    const chosen = form.querySelector(`input[name="q-${question.code}"]:checked`);
    result[question.code] = chosen ? chosen.value === "yes" : null;
  }
  return result;
}

function reset() {
  form.reset();
  pad.clear();
}

setUpQueue({
  onPerson: (visit) => {
    form.hidden = !visit;
    reset();
  },
});

async function decide(outcome) {
  const visit = atMyDesk();
  if (!visit) return;
  const given = answers();
  if (Object.values(given).some((value) => value === null)) {
    say(t("answer_all"), "error");
    return;
  }
  const body = {
    desk: desk(),
    outcome,
    answers: given,
    allergy_history: form.querySelector("input[name=allergy_history]:checked").value === "yes",
    deferral_reason: null,
    signature: null,
  };
  if (outcome === "eligible") {
    if (Object.values(given).some(Boolean)) {
      say(t("eligible_needs_no"), "error");
      return;
    }
    if (pad.empty) {
      say(t("signature_needed"), "error");
      return;
    }
    body.signature = pad.dataUrl();
  }
  if (outcome === "deferred") {
    if (!reasons.value) {
      say(t("reason_needed"), "error");
      reasons.focus();
      return;
    }
    body.deferral_reason = reasons.value;
  }
  const result = await send(`/visits/${visit.id}/consent`, body, { undoable: true, done: `${visit.ticket} ✓` });
  if (result.ok) say(`${visit.ticket} ✓`, "ok");
  else say(t("failed", { message: describe(result.error) }), "error");
}

$("eligible").addEventListener("click", () => decide("eligible"));
$("defer").addEventListener("click", () => decide("deferred"));
$("refuse").addEventListener("click", () => decide("refused"));
