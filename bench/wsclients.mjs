// Lightweight WebSocket load clients for bench/push.py and bench/day.py: raw Engine.IO 4 /
// Socket.IO 5 over the `ws` package, all in one Node.js process, so the load side does not
// saturate before the server does.
//
//   node bench/wsclients.mjs URL SPEC.json OUT.json
//
// SPEC.json: a list of {"auth": {...}, "join": {...}, "group": "..."}. Prints "READY n" once
// every client has joined (or "TIMEOUT" and exits after WSCLIENTS_TIMEOUT_S seconds, 120).
// Every `delta` or `call` a client receives is counted under (its group, the message's
// "seq"), keeping the latest arrival: a bench needs "when had every client of the group got
// seq N", and a 10-minute run would be tens of millions of single records. On SIGUSR1 writes
// [[group, seq, clients that got it, latest arrival time (s)], ...] to OUT.json and exits.
// Only the event name and the first "seq" of a message are parsed.
//
// Ticket mode (a person's phone on /t/<code>): a spec entry {"auth": {"ticket": CODE},
// "ticket": true} joins nothing; it counts as joined at its first `ticket` message. Every
// `ticket` message of these clients is kept, parsed, as [client index, arrival time (s),
// ticket, step, station, ahead, the view's "at"], and written to OUT.json.tickets.json on
// SIGUSR1 (only when the spec has ticket clients).
import { readFileSync, writeFileSync } from "node:fs";
import WebSocket from "ws";

const [url, specPath, outPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const arrivals = new Map(); // "group|seq" -> [group, seq, count, latest arrival]
const SEQ = /"seq":\s*(\d+)/;
const tickets = []; // [index, arrival, ticket, step, station, ahead, at] of every `ticket` message
const anyTickets = spec.some((entry) => entry.ticket);
let joined = 0;
const now = () => (performance.timeOrigin + performance.now()) / 1000;

function record(group, seq, at) {
  const key = `${group}|${seq}`;
  const seen = arrivals.get(key);
  if (seen) {
    seen[2] += 1;
    if (at > seen[3]) seen[3] = at;
  } else {
    arrivals.set(key, [group, seq, 1, at]);
  }
}

function ready() {
  joined += 1;
  if (joined === spec.length) console.log(`READY ${joined}`);
}

function client(index, { auth, join, group, ticket }) {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket", {
    perMessageDeflate: false,
  });
  let connected = false;
  let heard = false; // a phone: its first `ticket` came
  ws.on("message", (raw) => {
    const at = now();
    const message = raw.toString();
    if (message === "2") return ws.send("3");
    if (message[0] === "0") return ws.send("40" + JSON.stringify(auth));
    if (message.startsWith("40") && !connected) {
      connected = true;
      if (ticket) return; // a phone is in its ticket room at once, and may join nothing
      return ws.send("420" + JSON.stringify(["join", join]));
    }
    if (message.startsWith("44")) {
      console.error(`client ${index} refused: ${message}`);
      process.exit(1);
    }
    if (message.startsWith("430")) return ready();
    if (ticket && message.startsWith('42["ticket"')) {
      const [, view] = JSON.parse(message.slice(2));
      if (!heard) {
        heard = true;
        ready();
      }
      tickets.push([index, at, view.ticket, view.step, view.station, view.ahead, view.at]);
      return;
    }
    if (message.startsWith("42[")) {
      const end = message.indexOf('"', 4);
      const name = message.slice(4, end);
      if (name !== "delta" && name !== "call") return;
      const match = SEQ.exec(message.slice(end, end + 200));
      if (match) record(group, Number(match[1]), at);
    }
  });
  ws.on("error", (error) => console.error(`client ${index}: ${error.message}`));
}

process.on("SIGUSR1", () => {
  writeFileSync(outPath, JSON.stringify([...arrivals.values()]));
  if (anyTickets) writeFileSync(`${outPath}.tickets.json`, JSON.stringify(tickets));
  console.log("DONE");
  process.exit(0);
});

let index = 0;
function spawnSome() {
  for (let n = 0; n < 50 && index < spec.length; n += 1, index += 1) client(index, spec[index]);
  if (index < spec.length) setTimeout(spawnSome, 50);
}
spawnSome();
setTimeout(() => {
  if (joined < spec.length) {
    console.log(`TIMEOUT joined ${joined}/${spec.length}`);
    process.exit(1);
  }
}, 1000 * Number(process.env.WSCLIENTS_TIMEOUT_S || 120));
