// The queue part of the consent desks and injection booths: call next, the person called to
// this desk, call again, did not come.
import { $, atMyDesk, desk, describe, onChange, personText, say, send, station, t, visitsAt } from "./common.js";

/** `blocked(state)` returns a reason to keep "Call next" disabled, or null. */
export function setUpQueue({ blocked = () => null, onPerson = () => {} } = {}) {
  const callNext = $("call-next");
  let shownId = null;

  function render(state) {
    const waiting = visitsAt(station, ["waiting"]).length;
    $("queue-count").textContent = t("waiting_count", { count: waiting });
    const current = atMyDesk();
    const reason = blocked(state);
    const blockedBox = $("call-blocked");
    if (blockedBox) {
      blockedBox.hidden = !reason;
      blockedBox.textContent = reason || "";
    }
    callNext.disabled = Boolean(reason) || Boolean(current) || !desk();
    $("current").hidden = !current;
    if (current) {
      $("current-ticket").textContent = current.ticket;
      $("current-person").textContent = personText(current);
    }
    if ((current && current.id) !== shownId) {
      shownId = current ? current.id : null;
      onPerson(current || null);
    }
  }

  callNext.addEventListener("click", async () => {
    if (!desk()) {
      say(t("choose_desk"), "error");
      return;
    }
    callNext.disabled = true;
    const result = await send(`/stations/${station}/call-next`, { desk: desk() }, { undoable: true });
    if (!result.ok) say(t("failed", { message: describe(result.error) }), "error");
    else if (result.status === 204) say(t("nobody_waiting"), "info");
    else say(t("called", { ticket: result.data.visit.ticket, desk: desk() }), "ok");
  });
  $("recall").addEventListener("click", async () => {
    const current = atMyDesk();
    if (!current) return;
    const result = await send(`/visits/${current.id}/recall`, {});
    say(result.ok ? t("recalled") : t("failed", { message: describe(result.error) }), result.ok ? "ok" : "error");
  });
  $("no-show").addEventListener("click", async () => {
    const current = atMyDesk();
    if (!current) return;
    const result = await send(`/visits/${current.id}/no-show`, {}, { undoable: true });
    if (!result.ok) say(t("failed", { message: describe(result.error) }), "error");
  });
  onChange(render);
}

