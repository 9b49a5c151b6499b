// The waiting-area screen: counts and calls for the paired site, never any personal data.
// Without a display credential on this device it goes to the pairing page.
import { connectLive } from "./live.js";

const STORAGE_KEY = "siteflow.display";
const root = document.getElementById("display");
const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value; // never innerHTML: nothing from the server is markup
  if (className) el.className = className;
  return el;
}

function render(snapshot) {
  const shown = (stored.settings && stored.settings.stations) || Object.keys(snapshot.stations);
  const counts = document.getElementById("counts");
  counts.replaceChildren();
  for (const name of shown) {
    const station = snapshot.stations[name];
    if (!station) continue;
    counts.append(text("dt", name), text("dd", `${station.waiting} ${root.dataset.labelWaiting}`));
  }
  const calls = document.getElementById("calls");
  calls.replaceChildren(...snapshot.calling.slice(0, 6).map((call) => text("li", `${call.ticket} → ${call.station} ${call.desk}`)));
}

if (!stored || !stored.token) {
  window.location.replace(root.dataset.pairUrl);
} else {
  document.getElementById("site-name").textContent = (stored.settings && stored.settings.label) || stored.site;
  const status = document.getElementById("connection");
  let latest = null;
  connectLive({
    token: stored.token,
    site: stored.site,
    view: "display",
    onSnapshot: (snapshot) => { latest = snapshot; render(snapshot); },
    onCall: (call) => {
      if (!latest) return;
      latest.calling = [call, ...latest.calling.filter((c) => c.ticket !== call.ticket)];
      render(latest);
    },
    onStatus: (state) => { status.textContent = state === "online" ? "" : root.dataset.labelOffline; },
    onError: (error) => {
      if (error.code === "invalid_token") {
        localStorage.removeItem(STORAGE_KEY); // unpaired: pair again
        window.location.replace(root.dataset.pairUrl);
      }
    },
  });
}
