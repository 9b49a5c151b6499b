"""Lightweight WebSocket load clients: raw Engine.IO 4 / Socket.IO 5 over websocket-client,
one greenlet each, so a few hundred clients cost little CPU in this process.

    python bench/wsclients.py URL SPEC.json OUT.json

SPEC.json: a list of {"auth": {...}, "join": {...}}. Prints "READY n" once every client has
joined; on SIGUSR1 writes [[event, seq, client index, arrival time], ...] to OUT.json and
exits. Only the event name and the first "seq" of each message are parsed.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import websocket  # noqa: E402

SEQ = re.compile(r'"seq":\s*(\d+)')
records: list[tuple[str, int, int, float]] = []
joined = 0
all_joined = gevent.event.Event()
stop = gevent.event.Event()


def client(index: int, url: str, auth: dict, join: dict, total: int) -> None:
    global joined
    ws = websocket.create_connection(url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=120, enable_multithread=False)
    ws.recv()  # the Engine.IO open packet
    ws.send("40" + json.dumps(auth))
    while True:
        message = ws.recv()
        if message.startswith("40"):
            break
        if message.startswith("44"):
            raise RuntimeError(f"client {index} refused: {message}")
    ws.send("420" + json.dumps(["join", join]))
    append = records.append
    while not stop.is_set():
        try:
            message = ws.recv()
        except Exception:
            break
        now = time.time()
        if message == "2":
            ws.send("3")
        elif message.startswith("42["):
            end = message.index('"', 4)
            match = SEQ.search(message, end)
            append((message[4:end], int(match.group(1)) if match else -1, index, now))
        elif message.startswith("430"):
            joined += 1
            if joined == total:
                all_joined.set()
    ws.close()


def main() -> None:
    url, spec_path, out_path = sys.argv[1:4]
    spec = json.load(open(spec_path))
    gevent.signal_handler(signal.SIGUSR1, stop.set)
    for index, item in enumerate(spec):
        gevent.spawn(client, index, url, item["auth"], item["join"], len(spec))
        if index % 50 == 49:
            gevent.sleep(0.05)  # do not stampede the server's accept queue
    if not all_joined.wait(timeout=120):
        print(f"TIMEOUT joined {joined}/{len(spec)}", flush=True)
        sys.exit(1)
    print(f"READY {joined}", flush=True)
    stop.wait()
    with open(out_path, "w") as handle:
        json.dump(records, handle)
    print("DONE", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
