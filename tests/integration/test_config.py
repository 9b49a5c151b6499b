"""Configuration safety: production does not start with the development secret key."""
from __future__ import annotations

import pytest

from app import create_app
from app.config import ConfigError


def test_production_refuses_the_development_secret_key(sqlite_url, monkeypatch):
    monkeypatch.delenv("SITEFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("SITEFLOW_ENV", "production")
    with pytest.raises(ConfigError, match="SITEFLOW_SECRET_KEY"):
        create_app({"DATABASE_URL": sqlite_url})


def test_production_starts_with_a_real_secret_key(sqlite_url, monkeypatch):
    monkeypatch.setenv("SITEFLOW_ENV", "production")
    monkeypatch.setenv("SITEFLOW_SECRET_KEY", "4f1c" * 16)
    app = create_app({"DATABASE_URL": sqlite_url})
    assert app.config["SECRET_KEY"] == "4f1c" * 16
    app.extensions["siteflow"].store.engine.dispose()


def test_development_runs_with_the_development_key(sqlite_url, monkeypatch):
    monkeypatch.delenv("SITEFLOW_ENV", raising=False)
    monkeypatch.delenv("SITEFLOW_SECRET_KEY", raising=False)
    app = create_app({"DATABASE_URL": sqlite_url})
    assert app.config["SITEFLOW_ENV"] == "development"
    app.extensions["siteflow"].store.engine.dispose()
