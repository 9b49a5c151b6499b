"""Real, throwaway PostgreSQL and Redis servers for the test session (no mocks).

Register from ``tests/conftest.py``::

    pytest_plugins = ["tests.support.services"]

Fixtures
--------
``postgres_server`` (session)
    Base SQLAlchemy URL of a private PostgreSQL cluster started for this session,
    e.g. ``postgresql+psycopg://siteflow@127.0.0.1:PORT/``.  The URL names no
    database: use ``postgres_database`` for something to connect to.
``postgres_database_factory`` (function)
    Callable; every call creates a fresh, empty database and returns its
    SQLAlchemy URL.  All of them are dropped (``WITH (FORCE)``) after the test.
``postgres_database`` (function)
    SQLAlchemy URL of one fresh, empty database, dropped after the test.
``redis_server`` (session)
    A :class:`RedisServer` with ``.url`` (``redis://127.0.0.1:PORT/0``),
    ``.host``, ``.port``, ``.ping()``, ``.stop()``, ``.start()``, ``.restart()``
    and the context manager ``.outage()`` (stop, yield, start on the same port).

Environment
-----------
``SITEFLOW_TEST_POSTGRES_URL``
    Use this server instead of starting one.  Its user must be allowed to
    ``CREATE DATABASE``; its database (default ``postgres``) is used for that.
``SITEFLOW_TEST_REDIS_URL``
    Use this Redis instead of starting one; ``stop()``/``start()`` then skip.
``CI``
    When non-empty, a missing server binary fails the tests instead of
    skipping them: CI must have every component.

Servers run in their own session (``start_new_session=True``), log into their
temp dir (the tail of the log is included in any startup error), and are
stopped both by the fixture finalizer and by an ``atexit`` hook.  Under root,
PostgreSQL runs as the ``postgres`` OS user (``initdb``/``postgres`` refuse to
run as root); the privilege drop is done by :mod:`subprocess` itself
(``user=``/``group=``/``extra_groups=``), equivalent to ``setpriv``, so the pid
we hold is the postmaster's own.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import pytest

HOST = "127.0.0.1"
PG_USER = "siteflow"
STARTUP_TIMEOUT = 30.0  # seconds a server gets to answer after being spawned
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3  # a free port can be taken by someone else before we bind it
LOG_TAIL_LINES = 40

POSTGRES_URL_ENV = "SITEFLOW_TEST_POSTGRES_URL"
REDIS_URL_ENV = "SITEFLOW_TEST_REDIS_URL"

_ADDRESS_IN_USE = re.compile(r"address already in use|could not bind|could not create any", re.I)


class ServerStartError(RuntimeError):
    """A server binary exists but the server could not be brought up."""


# --------------------------------------------------------------------------
# process plumbing shared by both servers
# --------------------------------------------------------------------------

_live: list[Any] = []  # objects with .close(); stopped at interpreter exit at the latest


@atexit.register
def _close_leftovers() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.close()


def _component_absent(name: str, detail: str) -> NoReturn:
    message = f"{name} not installed (optional component absent)"
    ci = os.environ.get("CI", "")
    if ci:
        pytest.fail(
            f"{message}, but CI={ci!r} is set and CI must have every component ({detail})",
            pytrace=False,
        )
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def _spawn(cmd: list[str], log_path: Path, cwd: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``cmd`` detached (own session), stdout+stderr appended to ``log_path``."""
    with open(log_path, "ab") as log:  # the child keeps its own copy of the fd
        log.write(f"\n$ {shlex.join(cmd)}\n".encode())
        log.flush()
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )


def _failure(proc: subprocess.Popen[bytes]) -> str:
    """How a server that never became ready failed (call after _stop_process)."""
    if proc.returncode is not None and proc.returncode >= 0:
        return f"exited with code {proc.returncode} before it was ready"
    return f"was not ready within {STARTUP_TIMEOUT:.0f} s"


def _stop_process(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    """Send ``sig``, wait; SIGKILL the server's process group if that is not enough.

    (A postmaster only exits after its backends have, so a clean exit leaves nothing behind.)
    """
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)


def _make_base_dir(prefix: str, owner: pwd.struct_passwd | None) -> Path:
    # Under root the server runs as another user, which must be able to traverse
    # every parent: use /tmp itself rather than a possibly private $TMPDIR.
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp" if owner else None))
    os.chmod(base, 0o755)
    if owner:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    return base


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name  # /usr/lib/postgresql/<version>/bin/initdb
    return tuple(int(p) for p in re.findall(r"\d+", version)) or (0,)


def find_postgres_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``postgres``, or None when not installed."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True):
        candidates.append(Path(initdb).parent)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres")):
            return bindir
    return None


def _postgres_os_user() -> pwd.struct_passwd | None:
    """The OS user PostgreSQL must run as: None (= us) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServerStartError(
            "running as root, but there is no 'postgres' OS user to run initdb/postgres as "
            "(they refuse to run as root)"
        ) from None


def _pg_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, PGHOST, ...) of the caller must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PostgresCluster:
    """A private PostgreSQL cluster in a temp dir, on a free port of 127.0.0.1."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None  # initdb + start, for the curious

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@{HOST}:{self.port}/"

    @property
    def log_path(self) -> Path:
        assert self.base is not None
        return self.base / "postgres.log"

    def start(self) -> str:
        began = time.monotonic()
        owner = _postgres_os_user()
        creds: dict[str, Any] = {}
        if owner:
            creds = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        self.base = _make_base_dir("siteflow-pg-", owner)
        _live.append(self)
        sock_dir = self.base / "sock"
        sock_dir.mkdir(mode=0o700)
        if owner:
            os.chown(sock_dir, owner.pw_uid, owner.pw_gid)
        data_dir = self.base / "data"

        initdb_log = self.base / "initdb.log"
        with open(initdb_log, "wb") as log:
            try:
                result = subprocess.run(
                    [
                        str(self.bindir / "initdb"),
                        "-D", str(data_dir),
                        "--auth=trust",
                        "-U", PG_USER,
                        "--encoding=UTF8",
                        "--no-locale",
                        "--no-sync",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.base,
                    env=_pg_env(),
                    timeout=120,
                    **creds,
                )
            except subprocess.TimeoutExpired:
                raise ServerStartError(
                    f"initdb took more than 120 s; log tail:\n{log_tail(initdb_log)}"
                ) from None
        if result.returncode != 0:
            raise ServerStartError(
                f"initdb failed with exit code {result.returncode}; log tail:\n{log_tail(initdb_log)}"
            )

        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            self.proc = _spawn(
                [
                    str(self.bindir / "postgres"),
                    "-D", str(data_dir),
                    "-p", str(self.port),
                    "-c", f"listen_addresses={HOST}",
                    "-c", f"unix_socket_directories={sock_dir}",
                    "-c", "fsync=off",
                    "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off",
                ],
                self.log_path,
                cwd=self.base,
                env=_pg_env(),
                **creds,
            )
            if self._wait_until_ready():
                self.startup_seconds = time.monotonic() - began
                return self.url
            tail = log_tail(self.log_path)
            _stop_process(self.proc, signal.SIGQUIT)
            if attempt < PORT_ATTEMPTS and _ADDRESS_IN_USE.search(tail):
                continue  # lost the race for the port: try another one
            raise ServerStartError(
                f"PostgreSQL ({self.bindir}/postgres) {_failure(self.proc)} on {HOST}:{self.port}; "
                f"tail of its log {self.log_path}:\n{tail}"
            )
        raise AssertionError("unreachable")

    def _wait_until_ready(self) -> bool:
        import psycopg

        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with psycopg.connect(
                    host=HOST, port=self.port, user=PG_USER, dbname="postgres", connect_timeout=2
                ) as conn:
                    conn.execute("select 1")
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def close(self) -> None:
        # SIGQUIT = immediate shutdown (pg_ctl stop -m immediate): the data is thrown away anyway.
        _stop_process(self.proc, signal.SIGQUIT)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        with contextlib.suppress(ValueError):
            _live.remove(self)


def sqlalchemy_postgres_url(url: str) -> str:
    """``url`` with the driver forced to psycopg 3 (``postgresql+psycopg``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parsed!r}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str, database: str | None = None) -> str:
    """Turn a SQLAlchemy URL into a libpq/psycopg conninfo URI (optionally another database)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def database_name(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(url).database or None


class PostgresDatabaseFactory:
    """Creates fresh, empty databases on a server; drops whatever it created on cleanup()."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        # The database to connect to for CREATE/DROP DATABASE.
        self.admin_database = database_name(server_url) or "postgres"
        self.created: list[str] = []

    def _admin(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(
            libpq_url(self.server_url, self.admin_database), autocommit=True, connect_timeout=10
        )

    def __call__(self) -> str:
        """Create ``test_<uuid>`` and return its SQLAlchemy URL."""
        from psycopg import sql

        name = f"test_{uuid.uuid4().hex}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return sqlalchemy_postgres_url(libpq_url(self.server_url, name))

    def drop(self, url_or_name: str) -> None:
        """Drop one database (by URL or name), even if connections to it are still open."""
        from psycopg import sql

        name = database_name(url_or_name) if "://" in url_or_name else url_or_name
        if not name:
            raise ValueError(f"no database in {url_or_name!r}")
        with self._admin() as conn:
            ident = sql.Identifier(name)
            if conn.info.server_version >= 130000:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            else:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
        with contextlib.suppress(ValueError):
            self.created.remove(name)

    def cleanup(self) -> None:
        errors = []
        for name in list(reversed(self.created)):
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - keep dropping the others
                errors.append(f"{name}: {exc!r}")
        if errors:
            raise RuntimeError("could not drop test databases: " + "; ".join(errors))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL ``postgresql+psycopg://siteflow@127.0.0.1:PORT/`` of a throwaway cluster."""
    override = os.environ.get(POSTGRES_URL_ENV)
    if override:
        yield sqlalchemy_postgres_url(override)
        return
    bindir = find_postgres_bindir()
    if bindir is None:
        _component_absent(
            "PostgreSQL",
            "no initdb/postgres via `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH, "
            f"and {POSTGRES_URL_ENV} is not set",
        )
    cluster = PostgresCluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.close()


@pytest.fixture
def postgres_database_factory(postgres_server: str) -> Iterator[Callable[[], str]]:
    """Call it to get the SQLAlchemy URL of a new empty database; all are dropped afterwards."""
    factory = PostgresDatabaseFactory(postgres_server)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def postgres_database(postgres_database_factory: PostgresDatabaseFactory) -> str:
    """SQLAlchemy URL ``postgresql+psycopg://siteflow@127.0.0.1:PORT/test_<uuid>`` of an empty database."""
    return postgres_database_factory()


# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for path in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(path, os.X_OK):
            return path
    return None


def _resp(*args: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_line(sock: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("connection closed by Redis")
        buf += chunk
    return buf


def redis_ping(url: str, timeout: float = 1.0) -> bool:
    """PING over a raw socket (no redis package needed); AUTHs if the URL has a password."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or 6379), timeout=timeout) as s:
            if parts.password is not None:
                auth = ("AUTH", unquote(parts.username), unquote(parts.password)) if parts.username else (
                    "AUTH", unquote(parts.password))
                s.sendall(_resp(*auth))
                if not _read_line(s).startswith(b"+OK"):
                    return False
            s.sendall(_resp("PING"))
            return _read_line(s) == b"+PONG\r\n"
    except OSError:  # includes ConnectionError and socket.timeout
        return False


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1 that tests can stop and start again.

    ``stop()`` kills it (clients see connection refused / EOF); ``start()`` brings
    it back on the *same* port with an empty dataset (no persistence).
    """

    def __init__(self, binary: str | None = None, url: str | None = None) -> None:
        self.binary = binary
        self.managed = binary is not None
        self.base: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None  # last start(), for the curious
        if url is not None:  # external server (SITEFLOW_TEST_REDIS_URL)
            parts = urlsplit(url)
            self._url = url
            self.host = parts.hostname or HOST
            self.port: int | None = parts.port or 6379
        else:
            self._url = None
            self.host = HOST
            self.port = None

    @classmethod
    def external(cls, url: str) -> RedisServer:
        return cls(url=url)

    @property
    def url(self) -> str:
        if self._url is not None:
            return self._url
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        assert self.base is not None
        return self.base / "redis.log"

    @property
    def running(self) -> bool:
        if not self.managed:
            return self.ping()
        return self.proc is not None and self.proc.poll() is None

    def ping(self, timeout: float = 1.0) -> bool:
        return redis_ping(self.url, timeout)

    def _require_managed(self, what: str) -> None:
        if not self.managed:
            pytest.skip(f"cannot {what} an external Redis ({REDIS_URL_ENV} is set)")

    def start(self) -> RedisServer:
        """Start (or restart, on the same port) and wait until PING answers."""
        self._require_managed("start")
        if self.running:
            return self
        began = time.monotonic()
        if self.base is None:
            self.base = _make_base_dir("siteflow-redis-", None)
            _live.append(self)
        first_start = self.port is None
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if first_start:
                self.port = free_port()
            self.proc = _spawn(
                [
                    str(self.binary),
                    "--port", str(self.port),
                    "--bind", HOST,
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self.base),
                    "--daemonize", "no",
                    "--logfile", "",  # stdout -> our log file
                ],
                self.log_path,
                cwd=self.base,
            )
            if self._wait_until_ready():
                self.startup_seconds = time.monotonic() - began
                return self
            tail = log_tail(self.log_path)
            _stop_process(self.proc, signal.SIGTERM)
            if first_start and attempt < PORT_ATTEMPTS and _ADDRESS_IN_USE.search(tail):
                continue
            raise ServerStartError(
                f"redis-server ({self.binary}) {_failure(self.proc)} on {self.host}:{self.port}; "
                f"tail of its log {self.log_path}:\n{tail}"
            )
        raise AssertionError("unreachable")

    def _wait_until_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ping(timeout=0.5):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop the server (simulated outage); the port stays reserved for start()."""
        self._require_managed("stop")
        _stop_process(self.proc, signal.SIGTERM)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    @contextlib.contextmanager
    def outage(self) -> Iterator[RedisServer]:
        """``with redis_server.outage(): ...`` -- Redis is down inside the block, back up after."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def close(self) -> None:
        if not self.managed:
            return
        _stop_process(self.proc, signal.SIGTERM)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        with contextlib.suppress(ValueError):
            _live.remove(self)

    def __repr__(self) -> str:
        state = "external" if not self.managed else ("running" if self.running else "stopped")
        return f"<RedisServer {self.url} {state}>"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A :class:`RedisServer`: ``.url`` is ``redis://127.0.0.1:PORT/0``; ``.stop()``/``.start()``."""
    override = os.environ.get(REDIS_URL_ENV)
    if override:
        yield RedisServer.external(override)
        return
    binary = find_redis_server()
    if binary is None:
        _component_absent("Redis", f"no redis-server on PATH or in /usr/bin, and {REDIS_URL_ENV} is not set")
    server = RedisServer(binary)
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(autouse=True)
def _restart_stopped_redis() -> Iterator[None]:
    """A test that stop()ped the session Redis and did not start() it again (e.g. it
    failed half-way) must not leave the following tests with Redis down."""
    yield
    for server in list(_live):
        if isinstance(server, RedisServer) and server.managed and server.base is not None and not server.running:
            server.start()
