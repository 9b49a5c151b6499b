// The person's live ticket on their phone (/t/<code>): the server rendered it as it is; this keeps
// it live over the ticket's own channel (`ticket` on every change), vibrates on a call, counts
// down the observation, and asks for a fresh view when the phone wakes or the network returns.
// Without JavaScript the page reloads itself instead (its <noscript> refresh).
import { io } from "../vendor/socket.io-4.8.4/socket.io.esm.min.js";
import { serverNow, siteTime, syncClock } from "./clock.js";

const root = document.getElementById("ticket");
const data = JSON.parse(document.getElementById("ticket-data").textContent);
const words = data.words;
const lang = root.dataset.lang;
const $ = (id) => document.getElementById(id);
let view = data.view;
let lastCall = view.step === "called" ? view.called_at : null;

function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function show(id, text) {
  const element = $(id);
  element.textContent = text || "";
  element.hidden = !text;
}

function clock(seconds) {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function remaining() {
  return view.leave_at ? Math.max(0, Math.ceil((Date.parse(view.leave_at) - serverNow()) / 1000)) : 0;
}

function render() {
  const station = words.stations[view.station] || "";
  const step = view.step;
  let title = words[step] || words.see_staff;
  let detail = "";
  let desk = "";
  if (step === "waiting") {
    title = fill(words.waiting, { station });
    const parts = [];
    if (view.ahead !== null) parts.push(view.ahead === 0 ? words.next : fill(words.ahead, { n: view.ahead }));
    if (view.minutes !== null && view.ahead) parts.push(fill(words.about, { n: view.minutes }));
    detail = parts.join(" · ");
  } else if (step === "called") {
    title = fill(words.called, { station });
    desk = fill(words.desk, { desk: view.desk });
  } else if (step === "at_desk") {
    title = fill(words.at_desk, { station, desk: view.desk });
  } else if (step === "observing") {
    title = fill(words.observing, { time: siteTime(Date.parse(view.leave_at), lang === "zh" ? "zh-CN" : "en-GB", view.site.timezone) });
  }
  document.body.className = `ticket-page step-${step}`;
  $("number").textContent = view.ticket || "";
  $("title").textContent = title;
  show("desk", desk);
  show("detail", detail);
  $("countdown").hidden = step !== "observing";
  $("instructions").textContent = view.instructions[lang];
  $("emergency").hidden = !view.emergency;
  $("emergency-text").textContent = view.emergency ? view.emergency[lang] : "";
  tick();
}

function tick() {
  if (view.step === "observing") $("remaining").textContent = clock(remaining());
}

function status(text, offline) {
  const element = $("status");
  element.textContent = text;
  element.classList.toggle("offline", Boolean(offline));
}

function update(next) {
  syncClock(next.at);
  const called = next.step === "called" ? next.called_at : null;
  if (called && called !== lastCall && navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
  lastCall = called;
  view = next;
  render();
}

const socket = io({ auth: { ticket: root.dataset.code }, transports: ["websocket", "polling"],
  reconnectionDelay: 1000, reconnectionDelayMax: 10000 });
let ended = false;

// The code was replaced or has expired: stop trying, and keep saying so (the server's disconnect
// that follows must not turn it into "trying again").
function end() {
  ended = true;
  socket.io.opts.reconnection = false;
  status(words.ended, true);
}

socket.on("ticket", update);
socket.on("connect", () => status(words.live));
socket.on("disconnect", () => { if (!ended) status(words.offline, true); });
socket.on("connect_error", (error) => {
  if (error && error.data && error.data.code) end();
  else status(words.offline, true);
});
socket.on("error", (error) => {
  if (error && error.code === "credential_ended") end();
});

// Back from sleep or a lost network: ask for the ticket as it is now.
function wake() {
  if (document.visibilityState !== "visible") return;
  if (socket.connected) socket.emit("resync", {});
  else if (socket.io.opts.reconnection !== false) socket.connect();
}
document.addEventListener("visibilitychange", wake);
window.addEventListener("online", wake);
window.addEventListener("pageshow", wake);

render();
setInterval(tick, 1000);
