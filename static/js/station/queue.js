// The queue part of the consent desks and injection booths: call next (in the action bar, with
// the reason on it when it cannot be pressed), the person called to this desk, call again, did
// not come. While someone is at the desk, the bar holds the step's own button ([data-serving]).
import { $, atMyDesk, desk, onChange, personText, refused, say, send, state, station, t, visitsAt } from "./common.js";

/** `blocked(state)` returns a reason to keep "Call next" disabled, or null. */
export function setUpQueue({ blocked = () => null, onPerson = () => {} } = {}) {
  const callNext = $("call-next");
  let shownId = null;

  function reasonToWait(waiting) {
    if (!desk()) return t("choose_desk");
    const reason = blocked(state);
    if (reason) return reason;
    // Only a live count says nobody is waiting: offline, a press waits in the outbox instead.
    return state.snapshot && state.online && waiting === 0 ? t("nobody_waiting") : null;
  }

  function render() {
    const waiting = visitsAt(station, ["waiting"]).length;
    $("queue-count").textContent = t("waiting_count", { count: waiting });
    const current = atMyDesk();
    const reason = current ? null : reasonToWait(waiting);
    $("call-blocked").hidden = !reason;
    $("call-blocked").textContent = reason || "";
    callNext.disabled = Boolean(reason);
    callNext.hidden = Boolean(current);
    for (const button of document.querySelectorAll("[data-serving]")) button.hidden = !current;
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
    callNext.disabled = true;
    const result = await send(`/stations/${station}/call-next`, { desk: desk() }, { undoable: true });
    if (result.ok && result.status !== 204) {
      say(t("called", { ticket: result.data.visit.ticket, desk: desk() }), "ok");
      return; // the live update shows the person (and the button again when they are done)
    }
    if (result.ok) say(t("nobody_waiting"), "info");
    else refused(result.error);
    render();
  });
  $("recall").addEventListener("click", async () => {
    const current = atMyDesk();
    if (!current) return;
    const result = await send(`/visits/${current.id}/recall`, {});
    if (result.ok) say(t("recalled"), "ok");
    else refused(result.error);
  });
  $("no-show").addEventListener("click", async () => {
    const current = atMyDesk();
    if (!current) return;
    const result = await send(`/visits/${current.id}/no-show`, {}, { undoable: true });
    if (!result.ok) refused(result.error);
  });
  onChange(render);
  render();
}
