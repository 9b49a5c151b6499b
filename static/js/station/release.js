// Release from observation (observation station and exit): by a tap or a scanned slip.
// Early release is refused with the time that remains.
import { $, ask, onEnter, refused, say, send, showErrors, site, state, t } from "./common.js";
import { serverNow } from "../clock.js";

export function observing() {
  return [...state.visits.values()]
    .filter((visit) => visit.state === "observing")
    .sort((a, b) => a.observation.leave_at.localeCompare(b.observation.leave_at));
}

/** Seconds until the person may leave (0 when they may), by the server's clock. */
export function remaining(visit) {
  return Math.max(0, Math.ceil((Date.parse(visit.observation.leave_at) - serverNow()) / 1000));
}

// Supervisors get a dialog to release early with a reason; everyone else the refusal.
const earlyDialog = $("early-dialog");
let earlyVisit = null;
if (earlyDialog) {
  $("early-cancel").addEventListener("click", () => earlyDialog.close());
  $("early").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = $("early-reason").value.trim();
    if (!reason || !earlyVisit) return;
    earlyDialog.close();
    await release(earlyVisit, reason);
  });
}

export async function release(visit, overrideReason = null) {
  const body = overrideReason ? { override_reason: overrideReason } : {};
  const result = await send(`/visits/${visit.id}/release`, body, { undoable: true, done: t("released", { ticket: visit.ticket }) });
  if (result.ok) {
    say(t("released", { ticket: visit.ticket }), "ok");
    return true;
  }
  const error = result.error || {};
  if (error.code === "early_release") {
    const seconds = Number((error.fields || {}).remaining_seconds || remaining(visit));
    const text = t("early", { minutes: Math.floor(seconds / 60), seconds: seconds % 60 });
    say(text, "error");
    if (earlyDialog) {
      earlyVisit = visit;
      $("early-ticket").textContent = visit.ticket;
      $("early-remaining").textContent = text;
      $("early-reason").value = "";
      earlyDialog.showModal();
    }
  } else {
    refused(error);
  }
  return false;
}

/** The person of a scanned slip among those observing. The QR holds the phone ticket's address
 * (…/t/<code>: the server resolves it, for staff only) or, on slips printed before, the form
 * `siteflow:<site>:<visit id>`; a ticket number typed works as well. */
export async function findScanned(text) {
  const value = text.trim();
  const prefix = `siteflow:${site.id}:`;
  const people = observing();
  if (value.startsWith(prefix)) return people.find((visit) => visit.id === value.slice(prefix.length)) || null;
  if (value.includes("/t/")) {
    const answer = await ask("/slips/lookup", { scanned: value });
    const id = answer.ok && answer.data.visit ? answer.data.visit.id : null;
    return people.find((visit) => visit.id === id) || null;
  }
  return people.find((visit) => visit.ticket === value.toUpperCase()) || null;
}

/** The scan field and its Release button (the action bar): a scanner ends with Enter, a finger taps. */
export function setUpScan() {
  const input = $("scan");
  const go = async () => {
    const text = input.value.trim();
    input.value = "";
    const visit = text ? await findScanned(text) : null;
    if (!visit) {
      const scanned = text.startsWith("siteflow:") || text.includes("/t/");
      showErrors([[input, text ? t("not_found_ticket", { ticket: scanned ? "?" : text }) : t("scan_first")]]);
      return;
    }
    release(visit);
  };
  onEnter(input, go);
  $("release-scan").addEventListener("click", go);
}

export function clock(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
