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

/** The time of day (hh:mm, or hh:mm:ss) at a site: in its time zone (IANA name), whatever the device's zone. */
export function siteTime(ms, locale, timeZone, seconds = false) {
  return new Date(ms).toLocaleTimeString(locale, {
    hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined, hourCycle: "h23", timeZone });
}

/** A time zone's name in the page's language ("China Standard Time", "中国标准时间"), from the browser's own data. */
export function zoneName(ms, locale, timeZone) {
  const parts = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "long" }).formatToParts(new Date(ms));
  return (parts.find((part) => part.type === "timeZoneName") || { value: timeZone }).value;
}
