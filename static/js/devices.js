// The paired displays stay current without a reload: a TV is listed once it has collected its
// credential, a few seconds after its code was typed here. The page re-reads its own list (the
// server renders it, in the page's language and time zone) while it is in view.
const table = document.getElementById("displays");
const EVERY_MS = 3000;

async function refresh() {
  if (document.visibilityState !== "visible") return;
  try {
    const response = await fetch(table.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("displays");
    if (fresh && fresh.innerHTML !== table.innerHTML) table.replaceChildren(...fresh.childNodes);
  } catch {
    // offline or restarting: the next round tries again
  }
}

if (table) setInterval(refresh, EVERY_MS);
