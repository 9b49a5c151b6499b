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

function restart() {
  clearTimeout(timer);
  timer = setTimeout(signOut, seconds * 1000);
}

if (seconds > 0) {
  for (const name of ["pointerdown", "keydown", "touchstart", "wheel"]) {
    window.addEventListener(name, restart, { passive: true });
  }
  restart();
}
