// Exit (离场): scan a slip or tap a ticket to release; early release is refused.
import { $, el, onChange, t } from "./common.js";
import { clock, observing, release, remaining, setUpScan } from "./release.js";

const board = $("board");

function render() {
  const people = observing();
  $("observing-count").textContent = String(people.length);
  board.replaceChildren(...people.map((visit) => {
    const left = remaining(visit);
    return el("li", { class: left ? "" : "ready" },
      el("button", { type: "button", class: "ticket-button", dataset: { visit: visit.id }, onclick: () => release(visit) },
        el("strong", {}, visit.ticket), el("span", { class: "countdown" }, left ? clock(left) : t("ok_to_leave"))));
  }));
}

setUpScan();
onChange(render);
setInterval(render, 1000);
