"""The server process: what it does once before it accepts connections, and the gevent WSGI
server `siteflow serve` runs (app.wsgi under gunicorn has gunicorn's own)."""
from __future__ import annotations

import gc
import io
import socket

from flask import Flask
from gevent.pywsgi import WSGIHandler, WSGIServer, headers_factory

from app.flow.services import services_of

MAX_HEADER_LINE = 65536
MAX_HEADER_LINES = 100


def prepare_to_serve(app: Flask) -> None:
    """Build today's figures of every site (a busy day takes seconds to read, which would
    otherwise hold up the first client to ask), then take everything made so far (the
    imported code and the figures, ~200,000 objects) out of the garbage collector's full
    collections: they live as long as the process, and scanning them again on every full
    collection cost pauses of ~150 ms under load (docs/PERFORMANCE.md)."""
    services_of(app).figures.warm_up()
    gc.collect()
    gc.freeze()


def strict_headers(fp, *args):
    """The request's header block, refused when malformed: a bare CR (not followed by LF) is
    not a line end in HTTP, yet Python's parser splits a header there, so `Idempotency-Key:
    a<CR>X: b` would be read as the key "a" — another request's key. gevent answers a
    message with a `status` as a 400 Bad Request."""
    lines = []
    while True:
        line = fp.readline(MAX_HEADER_LINE + 1)
        lines.append(line)
        if len(line) > MAX_HEADER_LINE or len(lines) > MAX_HEADER_LINES:
            return _refused("Header line too long or too many headers")
        if line in (b"\r\n", b"\n", b""):
            break
    block = b"".join(lines)
    if b"\r" in block.replace(b"\r\n", b""):
        return _refused("A bare CR in a header")
    return headers_factory(io.BytesIO(block))


def _refused(reason: str):
    message = headers_factory(io.BytesIO(b"\r\n"))
    message.status = reason
    return message


class Handler(WSGIHandler):
    MessageClass = staticmethod(strict_headers)


class Server(WSGIServer):
    """gevent's WSGI server with strict header parsing and TCP_NODELAY: without it, Nagle's
    algorithm and the client's delayed ACK hold back the second of two pushes written in
    quick succession by about 40 ms."""

    handler_class = Handler

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(sock, address)
