"""The served process (`siteflow serve`, gevent) refuses malformed HTTP: a header line with a
bare CR is a 400, never split into two headers, so a key can never become another request's
key. Through real sockets against a real server process."""
from __future__ import annotations

import json
import socket

import pytest

from tests.support.factories import gen_checkin
from tests.support.live_servers import ServerProcess, create_token, free_port, init_database, server_env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}")
    init_database(env)
    token = create_token(env, "admin")
    with ServerProcess(env, free_port(), log_dir=folder) as process:
        yield process.port, token


def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def check_in(port: int, token: str, key_line: bytes) -> tuple[int, bytes]:
    body = json.dumps(gen_checkin()).encode()
    head = (b"POST /api/v1/sites/demo/visits HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\nContent-Type: application/json\r\n"
            + key_line + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return raw_request(port, head, body)


def test_a_bare_cr_in_a_header_is_refused_and_never_read_as_another_key(server):
    port, token = server
    first, _ = check_in(port, token, b"Idempotency-Key: tablet-key-1\r\n")
    assert first == 201
    # Read as "tablet-key-1" by a lenient parser, this would replay the first check-in.
    status, body = check_in(port, token, b"Idempotency-Key: tablet-key-1\rX-Injected: yes\r\n")
    assert status == 400
    assert b"visit" not in body
    repeat, _ = check_in(port, token, b"Idempotency-Key: tablet-key-2\r\n")
    assert repeat == 201  # the server goes on serving


def test_a_well_formed_key_with_lf_line_ends_is_fine(server):
    port, token = server
    status, _ = check_in(port, token, b"Idempotency-Key: tablet-key-3\n")
    assert status == 201
