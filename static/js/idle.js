// Signed-in pages end themselves after the configured inactivity, like the server does:
// a tablet left on a desk does not keep showing the last person's page.
import { csrfToken } from "./csrf.js";

const seconds = Number(document.body.dataset.idleSeconds || 0);
let timer = null;

async function signOut() {
  try {
    await fetch("/logout", {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      redirect: "manual",
    });
  } finally {
    window.location.replace("/login?idle=1");
  }
}

// The server counts inactivity from the last request it noted, which it writes at most every
// 30 s (a tenth of the limit when that is shorter): sign out that much before it, so that the
// sign-out still finds the session open.
const early = Math.min(35, seconds * 0.2);

function restart() {
  clearTimeout(timer);
  timer = setTimeout(signOut, (seconds - early) * 1000);
}

if (seconds > 0) {
  for (const name of ["pointerdown", "keydown", "touchstart", "wheel"]) {
    window.addEventListener(name, restart, { passive: true });
  }
  restart();
}
