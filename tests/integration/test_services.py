"""Prove that the real-server fixtures of tests/support/services.py work (no mocks)."""

from __future__ import annotations

import socket

import psycopg
import pytest
import sqlalchemy as sa

from tests.support import services
from tests.support.services import RedisServer, libpq_url, redis_ping


def _redis_command(sock: socket.socket, *args: str) -> bytes:
    sock.sendall(services._resp(*args))
    return services._read_line(sock)


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_server_answers_select_1(postgres_server: str) -> None:
    assert postgres_server.startswith("postgresql+psycopg://")
    with psycopg.connect(libpq_url(postgres_server, "postgres")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.postgres
def test_postgres_database_is_fresh_and_usable_with_sqlalchemy(postgres_database: str) -> None:
    assert sa.engine.make_url(postgres_database).database.startswith("test_")
    engine = sa.create_engine(postgres_database)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (id int primary key)"))
            conn.execute(sa.text("insert into t values (1)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from t")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_per_test_databases_are_isolated(postgres_database_factory) -> None:
    first, second = postgres_database_factory(), postgres_database_factory()
    assert first != second
    with psycopg.connect(libpq_url(first)) as conn:
        conn.execute("create table only_in_first (id int)")
    with psycopg.connect(libpq_url(second)) as conn:
        assert conn.execute("select to_regclass('only_in_first')").fetchone() == (None,)
    with psycopg.connect(libpq_url(first)) as conn:
        assert conn.execute("select to_regclass('only_in_first')").fetchone() == ("only_in_first",)


@pytest.mark.postgres
def test_drop_works_while_connections_are_open(postgres_server: str, postgres_database_factory) -> None:
    url = postgres_database_factory()
    name = sa.engine.make_url(url).database
    with psycopg.connect(libpq_url(url)) as busy:  # left open on purpose: DROP ... WITH (FORCE)
        postgres_database_factory.drop(url)
        with psycopg.connect(libpq_url(postgres_server, "postgres")) as admin:
            assert admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None
        with pytest.raises(psycopg.OperationalError):
            busy.execute("select 1")
    assert name not in postgres_database_factory.created


# ---------------------------------------------------------------------- Redis


def test_redis_answers_ping_over_a_raw_socket(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    with socket.create_connection((redis_server.host, redis_server.port), timeout=5) as sock:
        assert _redis_command(sock, "PING") == b"+PONG\r\n"
    assert redis_ping(redis_server.url)


def test_redis_stop_and_start_on_the_same_port(redis_server: RedisServer) -> None:
    url, port = redis_server.url, redis_server.port
    with socket.create_connection((redis_server.host, port), timeout=5) as client:
        assert _redis_command(client, "SET", "k", "v") == b"+OK\r\n"

        redis_server.stop()
        assert not redis_server.running
        assert not redis_ping(url)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((redis_server.host, port), timeout=5).close()
        with pytest.raises(OSError):  # the established connection is gone too
            _redis_command(client, "PING")

    redis_server.start()
    assert (redis_server.url, redis_server.port) == (url, port)
    assert redis_server.running and redis_ping(url)
    with socket.create_connection((redis_server.host, port), timeout=5) as client:
        assert _redis_command(client, "GET", "k") == b"$-1\r\n"  # no persistence: empty after restart


def test_redis_outage_context_manager(redis_server: RedisServer) -> None:
    with redis_server.outage():
        assert not redis_ping(redis_server.url)
    assert redis_ping(redis_server.url)


# ------------------------------------------------- optional-component policy


def test_absent_component_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"^PostgreSQL not installed \(optional component absent\)$"):
        services._component_absent("PostgreSQL", "test")


def test_absent_component_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have every component"):
        services._component_absent("Redis", "test")
