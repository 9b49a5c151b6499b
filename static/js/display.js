// The waiting-area screen: now calling (with a chime and a spoken call), waits per station,
// the observation board. Ticket numbers and counts only: the server sends nothing else here.
// A paired TV uses its display token; a signed-in member of staff may open a site's screen.
import { connectLive } from "./live.js";
import { Announcer } from "./announcer.js";
import { serverNow, syncClock } from "./clock.js";

const STORAGE_KEY = "siteflow.display";
const ALTERNATE_MS = 8000;
const root = document.getElementById("display");
const strings = JSON.parse(document.getElementById("display-strings").textContent);
const settingsBlock = document.getElementById("display-settings");
const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
const preview = Boolean(root.dataset.site);
const settings = preview ? JSON.parse(settingsBlock.textContent) : (stored && stored.settings) || {};
const site = preview ? root.dataset.site : stored && stored.site;
const shown = settings.stations && settings.stations.length ? settings.stations : ["checkin", "consent", "injection", "observation", "exit"];
const languages = settings.language === "en" ? ["en"] : settings.language === "zh" ? ["zh"] : ["zh", "en"];
let current = languages[0];
let latest = null;
let calls = [];
const announcer = new Announcer(languages, strings, root);

const fill = (template, vars) => Object.entries(vars).reduce((text, [k, v]) => text.split(`{${k}}`).join(String(v)), template);
const tr = (key, vars = {}, language = current) => fill(strings[language][key], vars);

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function deskName(call, language) {
  return `${strings[language].desk[call.station] || strings[language].stations[call.station] || call.station} ${call.desk}`;
}

function clock(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function render() {
  for (const node of root.querySelectorAll("[data-text]")) node.textContent = tr(node.dataset.text);
  document.documentElement.lang = current === "zh" ? "zh-Hans" : "en";
  document.getElementById("clock").textContent = new Date(serverNow()).toLocaleTimeString(current === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  if (!latest) return;
  const callList = document.getElementById("calls");
  callList.replaceChildren(...calls.slice(0, 6).map((call) => {
    const others = languages.filter((language) => language !== current);
    return el("li", call.fresh ? "fresh" : "",
      el("span", "ticket", call.ticket), el("span", "arrow", "→"),
      el("span", "where", deskName(call, current), ...others.map((language) => el("small", "", deskName(call, language)))));
  }));
  const counts = document.getElementById("counts");
  counts.replaceChildren(...shown.filter((name) => name === "consent" || name === "injection").map((name) => {
    const station = latest.stations[name];
    const minutes = station.expected_wait_minutes;
    const wait = station.waiting === 0 ? tr("no_wait") : minutes == null ? "" : tr("wait", { minutes });
    return el("li", "", el("span", "name", strings[current].stations[name]),
      el("span", "count", tr("people", { count: station.waiting })), el("span", "wait", wait));
  }));
  const observation = latest.observation;
  document.getElementById("seats").textContent = tr("seats", { used: observation.count, seats: observation.capacity });
  const board = document.getElementById("board");
  const now = serverNow();
  board.hidden = !shown.includes("observation");
  board.replaceChildren(...(observation.board || []).slice(0, 48).map((entry) => {
    const left = Math.max(0, Math.ceil((Date.parse(entry.leave_at) - now) / 1000));
    const ready = left === 0;
    return el("li", ready ? "ready" : "", el("span", "ticket", entry.ticket),
      el("span", "countdown", ready ? `${strings.zh.ok_to_leave} / ${strings.en.ok_to_leave}` : clock(left)));
  }));
}

function onSnapshot(snapshot) {
  syncClock(snapshot.at);
  latest = snapshot;
  const fresh = new Set(calls.filter((call) => call.fresh).map((call) => `${call.ticket}@${call.station}`));
  calls = snapshot.calling.filter((call) => shown.includes(call.station))
    .map((call) => ({ ...call, fresh: fresh.has(`${call.ticket}@${call.station}`) }));
  render();
}

function onCall(call) {
  if (!shown.includes(call.station)) return;
  calls = [{ ...call, fresh: true }, ...calls.filter((c) => !(c.ticket === call.ticket && c.station === call.station))];
  setTimeout(() => { call.fresh = false; }, 10000);
  announcer.announce(call);
  render();
}

if (!site) {
  window.location.replace(root.dataset.pairUrl);
} else {
  document.getElementById("site-name").textContent = settings.label || settings.site_name || site;
  const status = document.getElementById("connection");
  connectLive({
    token: preview ? undefined : stored.token,
    site,
    view: "display",
    onSnapshot,
    onCall,
    onStatus: (state) => { status.textContent = state === "online" ? "" : tr("offline"); },
    onError: (error) => {
      if (!preview && (error.code === "invalid_token" || error.code === "credential_ended")) {
        localStorage.removeItem(STORAGE_KEY); // unpaired: pair again
        window.location.replace(root.dataset.pairUrl);
      }
    },
  });
  setInterval(render, 1000);
  if (languages.length > 1) {
    setInterval(() => {
      current = languages[(languages.indexOf(current) + 1) % languages.length];
      render();
    }, ALTERNATE_MS);
  }
  render();
}
