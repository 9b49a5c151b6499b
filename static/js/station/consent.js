// Consent desk (知情同意 / 健康询问): call next, the screening questions as yes/no toggles, the
// signature pad, and the outcome: eligible, deferred with a reason, or refused.
import { $, atMyDesk, clearErrors, clearField, desk, el, label, say, send, showErrors, showRefusal, site, t } from "./common.js";
import { setUpQueue } from "./queue.js";
import { SignaturePad } from "./signature.js";

const form = $("consent");
const questions = $("questions");
for (const question of site.screening_questions) {
  questions.append(el("div", { class: "question", id: `question-${question.code}` },
    el("span", {}, label(question)),
    el("span", { class: "yesno", role: "radiogroup", "aria-label": label(question), dataset: { question: question.code } },
      el("label", {}, el("input", { type: "radio", name: `q-${question.code}`, value: "no" }), ` ${t("no")}`),
      el("label", {}, el("input", { type: "radio", name: `q-${question.code}`, value: "yes" }), ` ${t("yes")}`))));
}
const reasons = $("deferral-reason");
for (const reason of site.deferral_reasons) reasons.append(el("option", { value: reason.code }, label(reason)));

const canvas = $("signature");
const pad = new SignaturePad(canvas);
$("clear-signature").addEventListener("click", () => pad.clear());
canvas.addEventListener("pointerdown", () => clearField(canvas));

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
  clearErrors();
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
  // Every reason not to go on, beside its field: unanswered questions, a "yes" for an eligible
  // person, no signature, no deferral reason.
  const problems = [];
  const field = (code) => $(`question-${code}`);
  const unanswered = Object.keys(given).filter((code) => given[code] === null);
  for (const code of unanswered) problems.push([field(code), t("not_answered")]);
  if (outcome === "eligible") {
    Object.keys(given).filter((code) => given[code]).forEach((code, index) => {
      problems.push([field(code), index === 0 ? t("eligible_needs_no") : null]);
    });
    if (pad.empty) problems.push([canvas, t("signature_needed")]);
  }
  if (outcome === "deferred" && !reasons.value) problems.push([reasons, t("reason_needed")]);
  if (problems.length) {
    showErrors(problems);
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
  if (outcome === "eligible") body.signature = pad.dataUrl();
  if (outcome === "deferred") body.deferral_reason = reasons.value;
  const result = await send(`/visits/${visit.id}/consent`, body, { undoable: true, done: `${visit.ticket} ✓` });
  if (result.ok) say(`${visit.ticket} ✓`, "ok");
  else showRefusal(result.error, { answers: questions, outcome: questions, signature: canvas, deferral_reason: reasons });
}

$("eligible").addEventListener("click", () => decide("eligible"));
$("defer").addEventListener("click", () => decide("deferred"));
$("refuse").addEventListener("click", () => decide("refused"));
