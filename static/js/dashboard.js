// The supervisor dashboard: the figures come from GET /api/v1/sites/<site>/dashboard; the
// live supervisor view says when something happened (at most two fetches a second), and a
// timer refreshes the figures that move with the clock.
import { connectLive } from "./live.js";

const root = document.getElementById("dashboard");
const strings = JSON.parse(document.getElementById("strings").textContent);
const labels = JSON.parse(document.getElementById("labels").textContent);
const codes = JSON.parse(document.getElementById("codes").textContent); // the domain's codes, named
const named = (table, code) => codes[table][code] ?? code;
const zh = root.dataset.lang === "zh-Hans";
const $ = (id) => document.getElementById(id);
const THROTTLE_MS = 400;

function t(key, vars = {}) {
  return Object.entries(vars).reduce((text, [k, v]) => text.split(`{${k}}`).join(String(v)), strings[key] || key);
}
function renderBookings(bookings) {
  $("bookings-card").hidden = bookings.slots.length === 0;
  $("bookings-arrivals").textContent = t("arrivals", bookings.arrivals);
  $("bookings").replaceChildren(...bookings.slots.map((slot) => {
    const over = slot.booked > slot.capacity;
    const row = el("tr", over ? "over" : "", el("td", "", slot.slot_start.slice(11)),
      el("td", "", `${slot.booked} / ${slot.capacity}`), el("td", "", String(slot.arrived)));
    if (over) row.title = t("overbooked");
    return row;
  }));
}

// Open vials: the doses left in them need as many people; near closing, is the queue enough?
function renderVials(v) {
  const card = $("vials-card");
  card.hidden = v.open.length === 0;
  card.dataset.near = String(v.near_closing);
  card.dataset.enough = String(v.enough);
  $("vials-closing").textContent = v.minutes_to_closing > 0
    ? t("vials_closing", { time: time(v.closes_at), minutes: v.minutes_to_closing })
    : t("vials_closed", { time: time(v.closes_at) });
  $("vials-closing").hidden = !v.near_closing;
  $("vials-needed").textContent = String(v.people_needed);
  $("vials-needed-text").textContent = t("vials_needed", { n: v.people_needed });
  $("vials-verdict").textContent = v.enough ? t("vials_enough") : t("vials_short", { short: v.short });
  $("vials-queue").textContent = t("vials_queue", v.queue);
  $("vials").querySelector("tbody").replaceChildren(...v.open.map((vial) => {
    const lot = el("td", "", `${vial.lot} #${vial.vial}`);
    lot.title = named("products", vial.product);
    return el("tr", "", lot, el("td", "", vial.desk),
      el("td", "", vial.doses_left), el("td", "", `${time(vial.discard_at)} (${minutes(vial.minutes_left)})`));
  }));
}

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "—")));
  return node;
}
const minutes = (value) => (value === null || value === undefined ? strings.none : t("minutes", { n: value }));
const time = (iso) => new Date(iso).toLocaleTimeString(zh ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit", timeZone: root.dataset.timezone });

function renderBottleneck(b) {
  const box = $("bottleneck");
  if (!b) {
    box.replaceChildren(el("p", "", t("no_bottleneck")));
    box.dataset.level = "ok";
    return;
  }
  const head = t("bottleneck", { station: t(b.station), desks: b.desks_open, percent: Math.round(b.utilisation * 100) });
  let advice;
  if (b.queue_growing) advice = t("growing");
  else if (!b.can_open_more) advice = t("all_open", { desks: b.desks });
  else if (b.estimated_wait_minutes !== null && b.estimated_wait_with_one_more_minutes !== null) {
    advice = t("open_one", { now: b.estimated_wait_minutes, then: b.estimated_wait_with_one_more_minutes });
  }
  box.dataset.level = b.utilisation >= 0.85 || b.queue_growing ? "bad" : "warn";
  box.dataset.station = b.station;
  box.replaceChildren(el("strong", "", head), advice ? el("p", "", advice) : "");
}

function renderStations(stations) {
  const body = $("stations").querySelector("tbody");
  body.replaceChildren(...Object.entries(stations).map(([name, s]) => {
    const bar = el("div", "meter", el("span", ""));
    bar.firstChild.style.width = `${Math.round(s.utilisation * 100)}%`;
    return el("tr", "", el("th", "", t(name)), el("td", "", s.waiting), el("td", "", s.being_served),
      el("td", "", `${s.desks_open} / ${s.desks}`), el("td", "", minutes(s.oldest_wait_minutes)),
      el("td", "", minutes(s.mean_wait_minutes)), el("td", "", minutes(s.p90_wait_minutes)),
      el("td", "", minutes(s.mean_service_minutes)), el("td", "util", bar, ` ${Math.round(s.utilisation * 100)}%`));
  }));
}

function renderHours(byHour) {
  const svg = $("hours");
  const hours = Object.keys(byHour).map(Number);
  const first = Math.min(8, ...hours);
  const last = Math.max(17, ...hours);
  const max = Math.max(1, ...Object.values(byHour));
  const width = 600 / (last - first + 1);
  const ns = "http://www.w3.org/2000/svg";
  const parts = [];
  for (let hour = first; hour <= last; hour += 1) {
    const count = byHour[String(hour)] || 0;
    const height = (count / max) * 120;
    const x = (hour - first) * width;
    const rect = document.createElementNS(ns, "rect");
    Object.entries({ x: x + 4, y: 130 - height, width: width - 8, height, class: "bar" }).forEach(([k, v]) => rect.setAttribute(k, v));
    const label = document.createElementNS(ns, "text");
    Object.entries({ x: x + width / 2, y: 150, "text-anchor": "middle" }).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = String(hour);
    const value = document.createElementNS(ns, "text");
    Object.entries({ x: x + width / 2, y: 125 - height, "text-anchor": "middle", class: "value" }).forEach(([k, v]) => value.setAttribute(k, v));
    value.textContent = count ? String(count) : "";
    parts.push(rect, label, value);
  }
  svg.replaceChildren(...parts);
}

function pairs(target, rows) {
  target.replaceChildren(...rows.flatMap(([name, value]) => [el("dt", "", name), el("dd", "", value)]));
}

function render(d) {
  renderBottleneck(d.bottleneck);
  renderStations(d.stations);
  const target = d.target;
  $("doses").textContent = String(target.doses);
  $("doses-bar").style.width = `${Math.min(100, target.percent || 0)}%`;
  $("target-text").textContent = t("of_target", { doses: target.doses, target: target.daily_target, percent: target.percent ?? 0 });
  $("projection").textContent = t("projection", { n: target.projected, percent: target.projected_percent ?? 0 });
  $("observation").textContent = t("seats", { used: d.observation.count, seats: d.observation.capacity });
  $("observation-peak").textContent = t("peak", { n: d.observation.expected_peak });
  $("emergency").textContent = String(d.observation.emergency);
  renderHours(d.throughput.doses_by_hour);
  $("tis-median").textContent = minutes(d.time_in_system.median_minutes);
  $("tis-p90").textContent = minutes(d.time_in_system.p90_minutes);
  $("tis-count").textContent = String(d.time_in_system.released);
  renderBookings(d.bookings);
  renderVials(d.vials);
  const phone = d.phone;
  $("phone-share").textContent = phone.share === null ? "—" : `${Math.round(phone.share * 100)}%`;
  $("phone-detail").textContent = t("phone_share", { followed: phone.followed, tickets: phone.tickets });
  const o = d.outcomes;
  pairs($("outcomes"), [
    ...Object.entries(o.vaccinated_by_dose).map(([dose, n]) => [`${labels.vaccinated} ${dose}`, n]),
    ...Object.entries(o.deferred_by_reason).map(([reason, n]) => [`${labels.deferred}: ${named("reasons", reason)}`, n]),
    ...["refused", "turned_away", "no_show", "left", "left_vaccinated", "transferred", "open"].map((k) => [labels[k], o[k]]),
  ]);
  const alerts = $("alerts");
  alerts.replaceChildren(...(d.alerts.length ? d.alerts.map((a) => el("li", `alert ${a.code}`,
    t(`alert_${a.code}`, { ...a, station: a.station ? t(a.station) : "", state: a.state ? named("states", a.state) : "" })))
    : [el("li", "hint", t("no_alerts"))]));
  $("aefi").replaceChildren(...d.aefi.map((a) => el("li", a.overdue ? "alert overdue" : a.outcome ? "hint" : "alert",
    `${a.ticket} · ${named("severities", a.severity)} · `,
    a.outcome ? `${t("resolved")}: ${named("aefi_outcomes", a.outcome)}` : t(a.overdue ? "overdue" : "due", { time: time(a.report_due_at) }))));
  const desks = $("desks").querySelector("tbody");
  desks.replaceChildren(
    ...Object.entries(d.desks).flatMap(([station, rows]) => Object.entries(rows).map(([desk, r]) =>
      el("tr", "", el("th", "", `${t(station)} ${desk}`), el("td", "", r.served), el("td", "", minutes(r.mean_service_minutes))))),
    ...Object.entries(d.vaccinators).map(([who, r]) =>
      el("tr", "", el("th", "", `${labels.vaccinator} ${who.replace(/^[a-z_]+:/, "")}`), el("td", "", r.served), el("td", "", minutes(r.mean_service_minutes)))),
  );
  $("lots").querySelector("tbody").replaceChildren(...d.vaccine.doses.map((r) => el("tr", "", el("td", "", named("products", r.product)), el("td", "", r.lot), el("td", "", r.doses))));
  $("expiring").textContent = d.vaccine.expiring.length
    ? `${labels.expiring}: ${d.vaccine.expiring.map((l) => `${l.lot} (${l.expires_on})`).join(", ")}` : "";
  $("updated").textContent = t("updated", { time: time(d.at) });
  root.dataset.seq = String(d.seq);
  prefill(d);
}

// --- what if ---------------------------------------------------------------------------------
const whatIf = $("what-if-form");
function prefill(d) {
  if (whatIf.dataset.touched) return;
  whatIf.consent.value = Math.max(1, d.stations.consent.desks_open);
  whatIf.injection.value = Math.max(1, d.stations.injection.desks_open);
  whatIf.seats.value = d.observation.capacity;
}
whatIf.addEventListener("input", () => { whatIf.dataset.touched = "1"; });
whatIf.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = whatIf.querySelector("button");
  button.disabled = true;
  $("what-if-error").textContent = labels.running;
  const query = new URLSearchParams({ consent: whatIf.consent.value, injection: whatIf.injection.value, seats: whatIf.seats.value });
  const response = await fetch(`${$("what-if").dataset.url}?${query}`, { credentials: "same-origin" });
  const status = response.status;
  const data = await response.json().catch(() => ({}));
  button.disabled = false;
  if (status !== 200) {
    const fields = (data.error && data.error.fields) || {};
    $("what-if-error").textContent = Object.values(fields).join(" ") || (data.error && data.error.message) || String(status);
    return;
  }
  $("what-if-error").textContent = "";
  const rows = [
    [labels.desks, (x) => `${t("consent")} ${x.servers.consent} · ${t("injection")} ${x.servers.injection}`],
    [labels.seats, (x) => x.seats],
    ...["consent", "injection"].map((name) => [`${labels.mean_wait}: ${t(name)}`, (x) => minutes(x.stations[name].mean_wait_minutes)]),
    [labels.served, (x) => x.doses_by_closing],
    [labels.median, (x) => minutes(x.median_minutes_in_site)],
    [labels.peak, (x) => x.observation_peak],
  ];
  $("what-if-result").querySelector("tbody").replaceChildren(...rows.map(([name, value]) =>
    el("tr", "", el("th", "", name), el("td", "", value(data.now)), el("td", "", value(data.proposed)))));
  $("what-if-result").hidden = false;
  $("what-if-note").hidden = false;
});

let pending = null;
let inFlight = false;
async function refresh() {
  if (inFlight) {
    pending = pending || setTimeout(() => { pending = null; refresh(); }, THROTTLE_MS);
    return;
  }
  inFlight = true;
  try {
    const response = await fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) render(await response.json());
  } finally {
    inFlight = false;
  }
}
function soon() {
  if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150);
}

// The dashboard's live room carries the site's counts only (no person): each coalesced
// snapshot says the figures moved, and the page fetches them.
connectLive({
  site: root.dataset.site,
  view: "dashboard",
  onSnapshot: soon,
  onStatus: (state) => { if (state !== "online") $("updated").textContent = t("offline"); },
});
setInterval(refresh, 15000);
refresh();
