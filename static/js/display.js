// The waiting-area screen (a 1920x1080 or 1280x720 TV, nobody touching it): now calling (with a
// chime and a spoken call), waits per station, the observation board, an emergency in red.
// Ticket numbers and counts only: the server sends nothing else here. Nothing scrolls: a list
// longer than its box shows a page at a time and turns the page every 10 s at most, so that
// every ticket is on screen within 30 s. Times are the site's, in the site's time zone.
// A paired TV uses its display token; a signed-in member of staff may open a site's screen.
import { connectLive } from "./live.js";
import { Announcer } from "./announcer.js";
import { serverNow, siteTime, syncClock } from "./clock.js";

const STORAGE_KEY = "siteflow.display";
const SOUND_KEY = "siteflow.display.sound"; // "on" once someone tapped "turn on sound" on this device
const ALTERNATE_MS = 8000;
const PAGE_MS = 10000; // a page stays at most this long...
const CYCLE_MS = 30000; // ...and all pages go round within this (down to MIN_PAGE_MS a page)
const MIN_PAGE_MS = 3000;
const FRESH_MS = 8000; // a new call stands out this long
const root = document.getElementById("display");
const strings = JSON.parse(document.getElementById("display-strings").textContent);
const settingsBlock = document.getElementById("display-settings");
const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
const preview = Boolean(root.dataset.site);
const settings = preview ? JSON.parse(settingsBlock.textContent) : (stored && stored.settings) || {};
const site = preview ? root.dataset.site : stored && stored.site;
const shown = settings.stations && settings.stations.length ? settings.stations : ["checkin", "consent", "injection", "observation", "exit"];
const languages = settings.language === "en" ? ["en"] : settings.language === "zh" ? ["zh"] : ["zh", "en"];
const pagers = { calls: { page: 0, pages: 1 }, board: { page: 0, pages: 1 } };
const soundButton = document.getElementById("sound");
let current = languages[0];
let latest = null;
let calls = [];
const announcer = new Announcer(languages, strings, root, () => { soundButton.hidden = false; });

const fill = (template, vars) => Object.entries(vars).reduce((text, [k, v]) => text.split(`{${k}}`).join(String(v)), template);
const tr = (key, vars = {}, language = current) => fill(strings[language][key], vars);
const callKey = (call) => `${call.ticket}@${call.station}`;

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

function callItem(call) {
  const others = languages.filter((language) => language !== current);
  const item = el("li", "", el("span", "ticket", call.ticket), el("span", "arrow", "→"),
    el("span", "where", el("span", "", deskName(call, current)), ...others.map((language) => el("small", "", deskName(call, language)))));
  const age = Date.now() - (call.calledAt || -Infinity);
  if (age < FRESH_MS) {
    item.className = "fresh";
    item.style.animationDelay = `-${age}ms`; // redrawn every second: the animation carries on, not over
  }
  return item;
}

function boardItem(entry, now) {
  const left = Math.max(0, Math.ceil((Date.parse(entry.leave_at) - now) / 1000));
  return el("li", left === 0 ? "ready" : "", el("span", "ticket", entry.ticket),
    el("span", "countdown", left === 0 ? tr("ok_to_leave") : clock(left)));
}

// How many items fit in the list's box: items are all one size, so one is laid out and measured.
function capacity(list, sample) {
  list.replaceChildren(sample);
  const style = getComputedStyle(list);
  const columns = style.gridTemplateColumns.split(" ").length;
  const gap = parseFloat(style.rowGap) || 0;
  return Math.max(1, columns * Math.floor((list.clientHeight + gap) / (sample.getBoundingClientRect().height + gap)));
}

function paged(name, items, make) {
  const list = document.getElementById(name);
  const pager = pagers[name];
  const size = items.length ? capacity(list, make(items[0])) : 1;
  pager.pages = Math.max(1, Math.ceil(items.length / size));
  pager.page %= pager.pages;
  list.replaceChildren(...items.slice(pager.page * size, (pager.page + 1) * size).map(make));
  list.dataset.page = `${pager.page + 1}/${pager.pages}`;
  document.getElementById(`${name}-page`).textContent = pager.pages > 1 ? tr("page", { page: pager.page + 1, pages: pager.pages }) : "";
}

function render() {
  for (const node of root.querySelectorAll("[data-text]")) node.textContent = tr(node.dataset.text);
  document.documentElement.lang = current === "zh" ? "zh-Hans" : "en";
  const now = serverNow();
  // Until the first snapshot names the site's time zone, no clock: the device's zone may be another.
  document.getElementById("clock").textContent = latest ? siteTime(now, current === "zh" ? "zh-CN" : "en-GB", latest.timezone) : "";
  if (!latest) return;
  document.getElementById("emergency").hidden = !(latest.emergency && latest.emergency.count > 0);
  paged("calls", calls, callItem);
  const counts = document.getElementById("counts");
  counts.replaceChildren(...shown.filter((name) => name === "consent" || name === "injection").map((name) => {
    const station = latest.stations[name];
    const minutes = station.expected_wait_minutes;
    const wait = station.waiting === 0 ? tr("no_wait") : minutes == null ? "" : tr("wait", { minutes });
    return el("li", "", el("span", "name", strings[current].stations[name]),
      el("span", "count", tr("people", { count: station.waiting })), el("span", "wait", wait));
  }));
  if (!shown.includes("observation")) return; // this screen does not show the board
  const observation = latest.observation;
  document.getElementById("seats").textContent = tr("seats", { used: observation.count, seats: observation.capacity });
  paged("board", observation.board || [], (entry) => boardItem(entry, now));
}

function pageMs() {
  const pages = Math.max(...Object.values(pagers).map((pager) => pager.pages));
  return Math.min(PAGE_MS, Math.max(MIN_PAGE_MS, CYCLE_MS / pages));
}

let turnedAt = Date.now();
function tick() {
  if (Date.now() - turnedAt >= pageMs()) {
    turnedAt = Date.now();
    for (const pager of Object.values(pagers)) pager.page = (pager.page + 1) % pager.pages;
  }
  render();
}

function onSnapshot(snapshot) {
  syncClock(snapshot.at);
  latest = snapshot;
  const calledAt = new Map(calls.map((call) => [callKey(call), call.calledAt]));
  calls = snapshot.calling.filter((call) => shown.includes(call.station))
    .map((call) => ({ ...call, calledAt: calledAt.get(callKey(call)) }));
  render();
}

function onCall(call) {
  if (!shown.includes(call.station)) return;
  calls = [{ ...call, calledAt: Date.now() }, ...calls.filter((c) => callKey(c) !== callKey(call))];
  pagers.calls.page = 0; // the newest call is on the first page: show it now
  announcer.announce(call);
  render();
}

// Browsers play sound only after a tap on the page (autoplay policy): the first time, invite one;
// the tap unlocks the chime and the voices, and this device remembers it.
soundButton.addEventListener("click", () => {
  announcer.unlock();
  localStorage.setItem(SOUND_KEY, "on");
  soundButton.hidden = true;
});

if (!site) {
  window.location.replace(root.dataset.pairUrl);
} else {
  document.getElementById("site-name").textContent = settings.label || settings.site_name || site;
  document.getElementById("observation").hidden = !shown.includes("observation");
  if (localStorage.getItem(SOUND_KEY) === "on") announcer.start(); // the invitation comes back only if blocked
  else soundButton.hidden = false;
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
  setInterval(tick, 1000);
  if (languages.length > 1) {
    setInterval(() => {
      current = languages[(languages.indexOf(current) + 1) % languages.length];
      render();
    }, ALTERNATE_MS);
  }
  render();
}
