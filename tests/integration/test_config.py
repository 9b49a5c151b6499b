"""Configuration safety: production does not start with the development secret key."""
from __future__ import annotations

import json
import stat

import pytest

from app import create_app
from app.config import DEV_SECRET_KEY, ConfigError
from tests.conftest import TEST_DATA_KEY, TEST_LOOKUP_KEY


def test_production_refuses_the_development_secret_key(sqlite_url, monkeypatch):
    monkeypatch.delenv("SITEFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("SITEFLOW_DATA_KEYS", TEST_DATA_KEY)
    monkeypatch.setenv("SITEFLOW_LOOKUP_KEY", TEST_LOOKUP_KEY)
    monkeypatch.setenv("SITEFLOW_ENV", "production")
    with pytest.raises(ConfigError, match="SITEFLOW_SECRET_KEY"):
        create_app({"DATABASE_URL": sqlite_url})


def test_production_refuses_to_start_without_the_data_keys(sqlite_url, monkeypatch):
    monkeypatch.setenv("SITEFLOW_ENV", "production")
    monkeypatch.setenv("SITEFLOW_SECRET_KEY", "4f1c" * 16)
    monkeypatch.delenv("SITEFLOW_DATA_KEYS", raising=False)
    monkeypatch.setenv("SITEFLOW_LOOKUP_KEY", TEST_LOOKUP_KEY)
    with pytest.raises(ConfigError, match="SITEFLOW_DATA_KEYS"):
        create_app({"DATABASE_URL": sqlite_url})


@pytest.mark.parametrize("given", ["SITEFLOW_DATA_KEYS", "SITEFLOW_LOOKUP_KEY"])
def test_development_refuses_one_key_without_the_other(sqlite_url, monkeypatch, tmp_path, given):
    for name in ("SITEFLOW_ENV", "SITEFLOW_DATA_KEYS", "SITEFLOW_LOOKUP_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv(given, TEST_DATA_KEY if given == "SITEFLOW_DATA_KEYS" else TEST_LOOKUP_KEY)
    with pytest.raises(ConfigError, match="both SITEFLOW_DATA_KEYS and SITEFLOW_LOOKUP_KEY, or neither"):
        create_app({"DATABASE_URL": sqlite_url})
    assert not (tmp_path / "instance" / "keys.json").exists()


def test_production_starts_with_a_real_secret_key_and_data_keys(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("SITEFLOW_ENV", "production")
    monkeypatch.setenv("SITEFLOW_SECRET_KEY", "4f1c" * 16)
    monkeypatch.setenv("SITEFLOW_DATA_KEYS", TEST_DATA_KEY)
    monkeypatch.setenv("SITEFLOW_LOOKUP_KEY", TEST_LOOKUP_KEY)
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"DATABASE_URL": sqlite_url})
    assert app.config["SECRET_KEY"] == "4f1c" * 16
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "instance" / "keys.json").exists()  # production never writes keys
    app.extensions["siteflow"].store.engine.dispose()


def test_development_makes_its_own_secret_and_keys_once_in_the_instance_folder(sqlite_url, monkeypatch, tmp_path):
    for name in ("SITEFLOW_ENV", "SITEFLOW_SECRET_KEY", "SITEFLOW_DATA_KEYS", "SITEFLOW_LOOKUP_KEY"):
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(instance))
    first = create_app({"DATABASE_URL": sqlite_url})
    second = create_app({"DATABASE_URL": sqlite_url})
    assert first.config["SITEFLOW_ENV"] == "development"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] != DEV_SECRET_KEY
    assert len(first.config["SECRET_KEY"]) >= 40
    for name in ("secret_key", "keys.json"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name
    keys = json.loads((instance / "keys.json").read_text())
    assert set(keys) == {"SITEFLOW_DATA_KEYS", "SITEFLOW_LOOKUP_KEY"}
    # both apps seal and open with the same keys
    assert first.extensions["siteflow"].store.sealer.lookup("x") == second.extensions["siteflow"].store.sealer.lookup("x")
    for app in (first, second):
        app.extensions["siteflow"].store.engine.dispose()
