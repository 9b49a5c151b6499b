"""`siteflow init` makes the first admin; `siteflow users ...` manages accounts, audited as "cli"."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import create_app
from app.cli import cli
from app.flow import accounts
from app.store.tables import audit_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'users.db'}")
    monkeypatch.setenv("SITEFLOW_SITES", str(ROOT / "sites"))
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("SITEFLOW_ADMIN_PASSWORD", raising=False)
    return monkeypatch


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def _services():
    return create_app().extensions["siteflow"]


def _can_sign_in(username: str, password: str) -> bool:
    try:
        accounts.sign_in(_services(), username, password)
    except Exception:  # noqa: BLE001 - Unauthorized
        return False
    return True


def test_init_creates_the_first_admin_once_and_prints_the_password_once(env):
    first = run("init")
    assert first.exit_code == 0, first.output
    password = re.search(r"First admin created.*\n\s+(\S+)\n", first.output).group(1)
    assert _can_sign_in("admin", password)
    admin = accounts.get_account(_services(), username="admin")
    assert admin.role == "admin" and admin.must_change_password
    again = run("init")
    assert "admin" not in again.output and password not in again.output
    assert len(accounts.list_accounts(_services())) == 1


def test_an_automated_install_takes_the_admin_password_from_the_environment(env):
    env.setenv("SITEFLOW_ADMIN_PASSWORD", "from-the-vault-1")
    result = run("init")
    assert result.exit_code == 0 and "from-the-vault-1" not in result.output
    assert "SITEFLOW_ADMIN_PASSWORD" in result.output
    assert _can_sign_in("admin", "from-the-vault-1")
    assert not accounts.get_account(_services(), username="admin").must_change_password


def test_a_weak_admin_password_from_the_environment_is_refused(env):
    env.setenv("SITEFLOW_ADMIN_PASSWORD", "short")
    result = run("init")
    assert result.exit_code != 0 and "password" in result.output


def test_users_add_list_disable_enable_reset_and_pin(env):
    run("init")
    added = run("users", "add", "Nurse.Li", "--role", "station", "--site", "demo", "--station", "consent",
                "--station", "injection", "--name", "李护士", "--pin", "4826")
    assert added.exit_code == 0, added.output
    first_password = added.output.strip().splitlines()[-1].strip()
    assert _can_sign_in("nurse.li", first_password)
    listed = run("users", "list").output
    line = next(row for row in listed.splitlines() if row.startswith("nurse.li"))
    assert "station" in line and "demo" in line and "consent,injection" in line and "PIN" in line
    assert first_password not in listed
    assert run("users", "disable", "nurse.li").exit_code == 0
    assert "disabled" in run("users", "list").output and not _can_sign_in("nurse.li", first_password)
    assert run("users", "enable", "nurse.li").exit_code == 0
    reset = run("users", "reset-password", "nurse.li")
    new_password = reset.output.strip().splitlines()[-1].strip()
    assert not _can_sign_in("nurse.li", first_password) and _can_sign_in("nurse.li", new_password)
    assert run("users", "set-pin", "nurse.li", input="1357\n1357\n").exit_code == 0
    accounts.sign_in_with_pin(_services(), "nurse.li", "1357", site="demo")
    with _services().store.engine.connect() as conn:
        actions = [(row.actor, row.action) for row in conn.execute(audit_log.select())]
    for action in ("user.created", "user.disabled", "user.enabled", "user.password_reset", "user.changed"):
        assert ("cli", action) in actions, action


@pytest.mark.parametrize(("args", "field"), [
    (("users", "add", "x", "--role", "station", "--site", "demo"), "username"),
    (("users", "add", "nurse.wu", "--role", "station", "--site", "demo"), "stations"),
    (("users", "add", "wu", "--role", "station", "--site", "nowhere", "--station", "consent"), "sites"),
    (("users", "add", "wu", "--role", "city_supervisor", "--site", "demo"), "sites"),
    (("users", "add", "wu", "--role", "station", "--site", "demo", "--station", "consent", "--pin", "12"), "pin"),
])
def test_bad_input_is_named(env, args, field):
    run("init")
    result = run(*args)
    assert result.exit_code != 0 and f"{field}:" in result.output, result.output


def test_unknown_users_are_named(env):
    run("init")
    for command in ("disable", "enable", "reset-password"):
        result = run("users", command, "ghost")
        assert result.exit_code != 0 and "ghost" in result.output
    assert run("users", "add", "admin", "--role", "admin").exit_code != 0  # taken
