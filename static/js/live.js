// Live client for every SiteFlow page: connect over WebSocket, join one view, and keep the
// page's state in step with the server.
//
// Every push is a hint. A snapshot carries the site's sequence number; each delta carries
// the number of the event that caused it. A client that sees a gap (a delta that is not
// the next number and whose predecessors do not arrive within GAP_WAIT_MS) or that
// reconnects asks for a fresh snapshot.
import { io } from "../vendor/socket.io-4.8.4/socket.io.esm.min.js";

const GAP_WAIT_MS = 1000;

/**
 * @param {object} options
 * @param {string} options.token    bearer token (the same as for the API)
 * @param {string} [options.site]   site id (not for the city view)
 * @param {"display"|"station"|"supervisor"|"dashboard"|"city"} options.view
 * @param {string} [options.station] for the station view
 * @param {(snapshot: object) => void} [options.onSnapshot]
 * @param {(delta: object) => void} [options.onDelta]   applied in sequence order
 * @param {(call: object) => void} [options.onCall]     "A023 -> booth 3", never coalesced
 * @param {(ready: object) => void} [options.onReady]   observation over: OK to leave
 * @param {(row: object) => void} [options.onSite]      city view: one site's counts
 * @param {(status: "online"|"offline"|"resyncing") => void} [options.onStatus]
 * @param {(error: {code: string, message: string}) => void} [options.onError]
 * @param {string} [options.url]    server URL (default: this page's origin)
 */
export function connectLive(options) {
  const { token, site, view, station } = options;
  const call = (name, ...args) => (options[name] ? options[name](...args) : undefined);
  const socket = io(options.url || undefined, {
    transports: ["websocket"],
    auth: { token, station }, // a signed-in page's station: the one it is for, whatever other tabs are at
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });

  let seq = null; // last sequence number applied; null until the first snapshot
  const early = new Map(); // deltas that arrived ahead of a gap, by sequence number
  let gapTimer = null;

  function resync() {
    seq = null;
    early.clear();
    clearTimeout(gapTimer);
    gapTimer = null;
    call("onStatus", "resyncing");
    socket.emit("resync", {});
  }

  function drain() {
    while (seq !== null && early.has(seq + 1)) {
      const next = early.get(seq + 1);
      early.delete(seq + 1);
      seq = next.seq;
      call("onDelta", next);
    }
    if (early.size === 0) {
      clearTimeout(gapTimer);
      gapTimer = null;
    }
  }

  socket.on("connect", () => {
    call("onStatus", "online");
    // Joining always answers with a snapshot, so a reconnect resyncs by itself.
    seq = null;
    early.clear();
    socket.emit("join", { site, view, station }, (ack) => {
      if (!ack || !ack.ok) call("onError", (ack && ack.error) || { code: "join_failed", message: "join failed" });
    });
  });
  socket.on("disconnect", () => call("onStatus", "offline"));
  socket.on("connect_error", (error) => {
    call("onStatus", "offline");
    if (error && error.data && error.data.code) {
      call("onError", error.data); // refused: a bad or revoked token; do not hammer the server
      socket.io.opts.reconnection = false;
    }
  });
  socket.on("error", (error) => {
    call("onError", error);
    // The session this page was signed in with has ended (signed out, ended elsewhere, idle):
    // the server disconnects us; reloading leads to the sign-in page, then back here.
    if (error && error.code === "credential_ended" && !token) window.location.reload();
  });

  socket.on("snapshot", (snapshot) => {
    // Display rooms receive coalesced snapshots: an older one (from another server) is stale.
    if (seq !== null && snapshot.seq < seq && view !== "city") return;
    seq = snapshot.seq;
    for (const key of [...early.keys()]) if (key <= seq) early.delete(key);
    call("onStatus", "online");
    call("onSnapshot", snapshot);
    drain();
  });

  socket.on("delta", (delta) => {
    if (seq === null || delta.seq <= seq) return; // before the first snapshot, or already in it
    if (delta.seq === seq + 1) {
      seq = delta.seq;
      call("onDelta", delta);
      drain();
      return;
    }
    early.set(delta.seq, delta); // a gap: wait briefly for the missing ones, then resync
    if (!gapTimer) gapTimer = setTimeout(resync, GAP_WAIT_MS);
  });

  socket.on("call", (message) => call("onCall", message));
  socket.on("ready", (message) => call("onReady", message));
  socket.on("site", (row) => call("onSite", row));

  return {
    socket,
    resync,
    get seq() {
      return seq;
    },
    close() {
      clearTimeout(gapTimer);
      socket.close();
    },
  };
}
