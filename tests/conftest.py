"""Fixtures shared by all tests: a fixed clock, an app on a real database, tokens, an API client."""
from __future__ import annotations

from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.clock import FixedClock
from app.flow import sites as site_flow
from app.flow import tokens as token_flow
from app.store.migrate import upgrade

pytest_plugins = ["tests.support.services", "tests.support.api"]

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "sites" / "demo.toml"
# 09:00 in Asia/Shanghai, the demo site's time zone.
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each test using it runs twice: on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'siteflow.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'siteflow.db'}"


# Fixed keys: tests never write instance/keys.json.
TEST_DATA_KEY = "wKV0yNvf2rj0Tc5N6vKkkb0yQAs7Fq0w4v8P5mV0rUc="
TEST_LOOKUP_KEY = "c2l0ZWZsb3ctdGVzdC1sb29rdXAta2V5LW5vdC1zZWNyZXQtMzJi"


def build_app(database_url: str, clock: FixedClock, **config: Any):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CLOCK": clock, "SECRET_KEY": "test-secret",
                      "DATA_KEYS": TEST_DATA_KEY, "LOOKUP_KEY": TEST_LOOKUP_KEY, **config})
    services = app.extensions["siteflow"]
    upgrade(services.store.engine)
    site_flow.load_site_file(services, DEMO_SITE)
    return app


@pytest.fixture
def app(database_url, clock):
    app = build_app(database_url, clock)
    yield app
    app.extensions["siteflow_live"].stop()  # its worker must not outlive the database
    app.extensions["siteflow"].store.engine.dispose()


@pytest.fixture
def day_app(sqlite_url, clock):
    """An app on SQLite only: for simulated days, which need not run on every database."""
    app = build_app(sqlite_url, clock)
    yield app
    app.extensions["siteflow_live"].stop()
    app.extensions["siteflow"].store.engine.dispose()


@pytest.fixture
def services(app):
    return app.extensions["siteflow"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Tokens:
    """Bearer tokens for the demo site, created on first use."""

    def __init__(self, services):
        self._services = services
        self._cache: dict[tuple, str] = {}

    def make(self, role: str, site: str | None = "demo", station: str | None = None) -> str:
        key = (role, site, station)
        if key not in self._cache:
            name = f"{role}-{station or site or 'all'}"
            self._cache[key] = token_flow.create_token(
                self._services, role=role, site_id=site, station=station, name=name
            )
        return self._cache[key]

    @property
    def admin(self) -> str:
        return self.make("admin", site=None)

    @property
    def supervisor(self) -> str:
        return self.make("site_supervisor")

    @property
    def display(self) -> str:
        return self.make("display")

    def station(self, name: str) -> str:
        return self.make("station", station=name)


@pytest.fixture
def tokens(services) -> Tokens:
    return Tokens(services)


class Api:
    """A thin JSON client for /api/v1 with a default token."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def _headers(self, token: str | None, key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, path: str, *, token: str | None = None, **params: Any):
        return self.client.get("/api/v1" + path, headers=self._headers(token, None), query_string=params)

    def post(self, path: str, body: Any = None, *, token: str | None = None, key: str | None = None, raw: str | None = None):
        headers = self._headers(token, key)
        if raw is not None:
            return self.client.post("/api/v1" + path, data=raw, headers=headers, content_type="application/json")
        return self.client.post("/api/v1" + path, json=body if body is not None else {}, headers=headers)


@pytest.fixture
def api(client, tokens) -> Api:
    return Api(client, tokens.admin)
