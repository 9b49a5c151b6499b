// The server's clock on this page. Countdowns run against it, not the device's own clock:
// the device may be set wrong, and the demo runs the server's clock faster (data-clock-speed).
const body = document.body;
const speed = Number(body.dataset.clockSpeed || 1);
let base = Date.parse(body.dataset.serverNow || "") || Date.now();
let at = Date.now();

/** Milliseconds since the epoch, as the server counts them now. */
export function serverNow() {
  return base + (Date.now() - at) * speed;
}

/** Resynchronise with a time the server just sent (a snapshot's `at`). */
export function syncClock(iso) {
  const parsed = Date.parse(iso);
  if (!Number.isNaN(parsed)) {
    base = parsed;
    at = Date.now();
  }
}
