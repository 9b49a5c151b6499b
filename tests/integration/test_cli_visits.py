"""`siteflow visit`: every command of the registry on the command line, against a real database."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.flow.commands import COMMANDS
from tests.support.factories import gen_checkin, gen_consent, gen_injection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SITEFLOW_SITES", str(ROOT / "sites"))
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0


def visit(*args: str, body: dict | None = None, key: str | None = None):
    extra = ["--body", json.dumps(body)] if body is not None else []
    if key:
        extra += ["--key", key]
    return CliRunner().invoke(cli, ["visit", *args, *extra], catch_exceptions=False)


def answer(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_every_command_of_the_registry_is_on_the_command_line():
    listed = CliRunner().invoke(cli, ["visit", "--help"]).output
    assert all(command.name in listed for command in COMMANDS.values())


def test_a_whole_visit_from_the_command_line(env):
    person = gen_checkin(name="张三")
    checked_in = answer(visit("check-in", "demo", body=person))
    visit_id = checked_in["visit"]["id"]
    assert checked_in["visit"]["state"] == "waiting" and checked_in["visit"]["ticket"]
    assert person["document_number"] not in json.dumps(checked_in)  # masked, as on a tablet

    assert answer(visit("call-next", "demo", "consent", body={"desk": "A"}))["visit"]["id"] == visit_id
    assert answer(visit("consent", "demo", visit_id, body=gen_consent("A")))["visit"]["station"] == "injection"
    assert answer(visit("call-next", "demo", "injection", body={"desk": "1"}))["visit"]["id"] == visit_id
    injected = answer(visit("injection", "demo", visit_id, body=gen_injection("1")))
    assert injected["visit"]["state"] == "observing"

    released = answer(visit("release", "demo", visit_id, body={"override_reason": "left with family, felt well"}))
    assert released["visit"]["state"] == "released"


def test_nobody_waiting_is_said_plainly(env):
    result = visit("call-next", "demo", "consent", body={"desk": "A"})
    assert result.exit_code == 0 and "nobody waiting" in result.output


def test_a_bad_body_names_the_field_and_records_nothing(env):
    bad = visit("check-in", "demo", body=dict(gen_checkin(), dose_number="2"))
    assert bad.exit_code != 0 and "dose_number" in bad.output
    not_json = visit("call-next", "demo", "consent", "--body", "{desk")
    assert not_json.exit_code != 0
    assert "nobody waiting" in visit("call-next", "demo", "consent", body={"desk": "A"}).output


def test_an_idempotency_key_makes_a_repeat_do_nothing_more(env):
    body = gen_checkin()
    first = answer(visit("check-in", "demo", body=body, key="cli-retry-0001"))
    again = answer(visit("check-in", "demo", body=body, key="cli-retry-0001"))
    assert again == first
    called = answer(visit("call-next", "demo", "consent", body={"desk": "A"}))
    assert called["visit"]["id"] == first["visit"]["id"]
    assert "nobody waiting" in visit("call-next", "demo", "consent", body={"desk": "B"}).output


def test_a_rule_refusal_is_an_error_exit_with_the_reason(env):
    visit_id = answer(visit("check-in", "demo", body=gen_checkin()))["visit"]["id"]
    refused = visit("injection", "demo", visit_id, body=gen_injection("1"))
    assert refused.exit_code != 0 and "Error" in refused.output
