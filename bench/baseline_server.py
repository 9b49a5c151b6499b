"""The baseline: a bare Flask-SocketIO gevent app that broadcasts a comparable payload.

    python bench/baseline_server.py PORT

POST /act {"room": "...", "size": N} broadcasts {"seq": n, "pad": "x" * N} as `delta` to
the room and answers {"seq": n}. Clients join a room with the `join` event {"room"}.
"""
from gevent import monkey

monkey.patch_all()

import itertools  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

from flask import Flask, jsonify, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", logger=False, engineio_logger=False)
counter = itertools.count(1)


@socketio.on("connect")
def connect(auth=None):
    return True


@socketio.on("join")
def join(data):
    join_room(data["room"])
    return {"ok": True}


@app.post("/act")
def act():
    body = request.get_json()
    seq = next(counter)
    for room in body["rooms"]:
        socketio.emit("delta", {"seq": seq, "pad": "x" * body.get("size", 1500)}, to=room)
    return jsonify({"seq": seq})


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


class Server(WSGIServer):
    """As socketio.run() serves, plus TCP_NODELAY like `siteflow serve`: the same transport."""

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(sock, address)


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[1])), app, log=None)
    server.start()
    print(f"baseline running at http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
