// Pairing a TV: ask for a code, show it, poll until a supervisor has entered it, then keep the
// display credential on this device and open the waiting-area screen. No keyboard needed.
import { postJson } from "./csrf.js";

export const STORAGE_KEY = "siteflow.display";
const POLL_MS = 2000;
const codeEl = document.getElementById("pair-code");
const statusEl = document.getElementById("pair-status");

async function start() {
  let request;
  try {
    request = await postJson("/pair/start");
  } catch {
    statusEl.textContent = statusEl.dataset.error;
    setTimeout(start, 5000);
    return;
  }
  if (request.status !== 201) {
    statusEl.textContent = statusEl.dataset.error;
    setTimeout(start, 30000);
    return;
  }
  codeEl.textContent = request.data.code;
  statusEl.textContent = "";
  poll(request.data.secret);
}

async function poll(secret) {
  let answer;
  try {
    answer = await postJson("/pair/collect", { secret });
  } catch {
    statusEl.textContent = statusEl.dataset.error;
    setTimeout(() => poll(secret), POLL_MS * 2);
    return;
  }
  const { status, data } = answer;
  if (status === 200 && data.status === "paired") {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: data.token, site: data.site, settings: data.settings }));
    window.location.replace("/display");
  } else if (status === 200 && data.status === "pending") {
    setTimeout(() => poll(secret), POLL_MS);
  } else {
    statusEl.textContent = statusEl.dataset.expired;
    start();
  }
}

start();
