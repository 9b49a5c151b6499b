// The city overview: every site's day against its target, ranked, sortable, kept current by
// the city live room (admins and city supervisors) or a timer; a 14-day trend per site. A clock
// per time zone of the sites, labelled; the times shown are the first site's.
import { connectLive } from "./live.js";
import { serverNow, siteTime, zoneName } from "./clock.js";

const root = document.getElementById("city");
const strings = JSON.parse(document.getElementById("strings").textContent);
const zh = root.dataset.lang === "zh-Hans";
const locale = zh ? "zh-CN" : "en-GB";
const clocks = [...document.querySelectorAll(".zone-clock")];
const zone = clocks.length ? clocks[0].dataset.zone : undefined;
const body = document.querySelector("#sites tbody");
const trends = new Map();
let rows = [];
let sortKey = "rank";
let ascending = true;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (className) td.className = className;
  return td;
}

function spark(days) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("class", "spark");
  const max = Math.max(1, ...days.map((d) => d.doses));
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", days.map((d, i) => `${(i * 120) / Math.max(1, days.length - 1)},${26 - (d.doses / max) * 24}`).join(" "));
  const title = document.createElementNS(ns, "title");
  title.textContent = days.map((d) => `${d.date.slice(5)}: ${d.doses}`).join("\n");
  svg.append(title, line);
  return svg;
}

function render() {
  const sorted = [...rows].sort((a, b) => {
    const x = a[sortKey];
    const y = b[sortKey];
    const order = typeof x === "string" ? x.localeCompare(y) : (x ?? -1) - (y ?? -1);
    return ascending ? order : -order;
  });
  body.replaceChildren(...sorted.map((row) => {
    const tr = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `${root.dataset.dashboard}${encodeURIComponent(row.site)}/dashboard`;
    link.textContent = zh ? row.name_zh : row.name;
    const name = document.createElement("td");
    name.append(link);
    const trend = document.createElement("td");
    if (trends.has(row.site)) trend.append(spark(trends.get(row.site)));
    tr.dataset.site = row.site;
    tr.append(cell(row.rank, "rank"), name, cell(`${row.doses} / ${row.daily_target} (${row.percent_of_target ?? 0}%)`),
      cell(row.throughput_last_hour), cell(row.waiting), cell(row.longest_wait_minutes),
      cell(`${row.observation} / ${row.observation_capacity}`), cell(row.open_aefi, row.open_aefi ? "error" : ""),
      cell(row.booked), cell(row.arrived), cell(row.no_show, row.no_show ? "error" : ""), trend);
    return tr;
  }));
}

const GROUPS_SHOWN = 50;
function renderGroups(groups) {
  const names = new Map(rows.map((row) => [row.site, zh ? row.name_zh : row.name]));
  document.getElementById("groups-card").hidden = groups.length === 0;
  document.querySelector("#groups tbody").replaceChildren(...groups.slice(0, GROUPS_SHOWN).map((group) => {
    const tr = document.createElement("tr");
    tr.append(cell(names.get(group.site) || group.site), cell(group.group || strings.no_group), cell(group.booked),
      cell(group.arrived), cell(group.no_show, group.no_show ? "error" : ""));
    return tr;
  }));
}

async function refresh() {
  const response = await fetch(root.dataset.api, { credentials: "same-origin" });
  if (!response.ok) return;
  const report = await response.json();
  rows = report.sites;
  document.getElementById("updated").textContent = siteTime(serverNow(), locale, zone, true);
  render();
  renderGroups(report.groups);
  if (!trendsLoaded) loadTrends();
}

// Every site's 14 days in one answer (the finished days are stored rollups).
let trendsLoaded = false;
async function loadTrends() {
  trendsLoaded = true;
  const response = await fetch(`${root.dataset.trend}?days=14`, { credentials: "same-origin" });
  if (!response.ok) {
    trendsLoaded = false;
    return;
  }
  for (const site of (await response.json()).sites) trends.set(site.site, site.days);
  render();
}

for (const th of document.querySelectorAll("th.sortable")) {
  th.addEventListener("click", () => {
    ascending = sortKey === th.dataset.key ? !ascending : th.dataset.key === "rank" || th.dataset.key === "site";
    sortKey = th.dataset.key;
    render();
  });
}

function tick() {
  for (const clock of clocks) {
    clock.textContent = `${siteTime(serverNow(), locale, clock.dataset.zone)} ${zoneName(serverNow(), locale, clock.dataset.zone)}`;
  }
}

let timer = null;
const soon = () => { if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 500); };
if (root.dataset.live === "yes") connectLive({ view: "city", onSite: soon, onSnapshot: soon });
setInterval(refresh, 15000);
setInterval(tick, 1000);
tick();
refresh();
