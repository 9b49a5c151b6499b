"""The audit trail: who viewed full records, overrides with reasons, sign-ins, account and token
changes; read by supervisors (site supervisors only for their sites), filtered and exported."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from app.flow import accounts, audit
from app.store.tables import audit_log
from tests.support.api import (
    act,
    call_next,
    checker,
    japi,
    load_site_variant,
    to_observation,
)
from tests.support.factories import gen_checkin

HTML = {"Accept": "text/html"}


def _entries(services) -> list:
    with services.store.engine.connect() as conn:
        return conn.execute(audit_log.select().order_by(audit_log.c.id)).all()


def _signed_in(app, services, username: str, role: str, sites: list[str]):
    accounts.create_user(services, actor="test", username=username, display_name=username, role=role, sites=sites,
                         password="audit-pass-12")
    client = app.test_client()
    page = client.get("/login", headers=HTML).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": username, "password": "audit-pass-12",
                                       "csrf_token": csrf}).status_code == 302
    return client


def test_full_record_views_and_overrides_are_audited_without_personal_data(japi, services, tokens, clock):
    observing_id = to_observation(japi)
    body = gen_checkin(name="上官秘密")
    visit = japi.post("/sites/demo/visits", body).get_json()["visit"]
    japi.get(f"/sites/demo/visits/{visit['id']}", token=tokens.supervisor)
    japi.get("/sites/demo/visits", token=tokens.supervisor)
    japi.get(f"/sites/demo/visits/{visit['id']}", token=tokens.station("consent"))  # masked: not audited
    clock.advance(minutes=5)
    act(japi, observing_id, "release", {"override_reason": "family emergency, signed waiver"},
        token=tokens.supervisor)
    entries = _entries(services)
    viewed = [e for e in entries if e.action == "record.viewed"]
    assert [(e.actor, e.subject) for e in viewed] == [("site_supervisor:site_supervisor-demo", f"visit:{visit['id']}")]
    assert viewed[0].detail == {"ticket": visit["ticket"]}
    listed = [e for e in entries if e.action == "record.listed"]
    assert listed and listed[0].detail["count"] >= 1
    early = next(e for e in entries if e.action == "override.release_early")
    assert early.detail["reason"] == "family emergency, signed waiver" and early.subject == f"visit:{observing_id}"
    assert early.detail["seq"] > 0  # the event it accompanies
    everything = " ".join(str(tuple(e)) for e in entries)
    assert "上官秘密" not in everything and body["document_number"] not in everything


def test_sign_ins_and_account_and_token_changes_are_audited(app, services, tokens):
    _signed_in(app, services, "chen", "site_supervisor", ["demo"])
    bad = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', bad.get("/login", headers=HTML).get_data(as_text=True))
    bad.post("/login", data={"username": "chen", "password": "nope", "csrf_token": csrf.group(1)})
    accounts.set_active(services, "chen", active=False, actor="admin:root")
    tokens.make("display")
    actions = [(e.action, e.outcome, e.actor) for e in _entries(services)]
    assert ("user.created", "ok", "test") in actions
    assert ("auth.login", "ok", "site_supervisor:chen") in actions
    assert ("auth.login_failed", "failed", "user:chen") in actions
    assert ("user.disabled", "ok", "admin:root") in actions
    assert ("token.created", "ok", "cli") in actions


def test_site_supervisors_read_only_their_sites_and_stations_not_at_all(app, services, tokens, tmp_path):
    load_site_variant(services, tmp_path, "north")
    audit.record(services, "x:a", "record.viewed", site="demo", subject="visit:d")
    audit.record(services, "x:b", "record.viewed", site="north", subject="visit:n")
    north = {"Authorization": f"Bearer {tokens.make('site_supervisor', site='north')}"}
    seen = app.test_client().get("/api/v1/audit", headers=north).get_json()["entries"]
    assert {entry["site"] for entry in seen} == {"north"}
    assert app.test_client().get("/api/v1/audit?site=demo", headers=north).status_code == 403
    city = {"Authorization": f"Bearer {tokens.make('city_supervisor', site=None)}"}
    assert {e["site"] for e in app.test_client().get("/api/v1/audit", headers=city).get_json()["entries"]} >= {
        "demo", "north"}
    station = {"Authorization": f"Bearer {tokens.station('consent')}"}
    assert app.test_client().get("/api/v1/audit", headers=station).status_code == 403
    page = _signed_in(app, services, "boss", "site_supervisor", ["north"]).get("/audit", headers=HTML)
    assert 'data-subject="visit:n"' in page.get_data(as_text=True) and "visit:d" not in page.get_data(as_text=True)


def test_the_page_filters_and_the_export_is_csv_neutralised_and_audited(app, services, clock):
    audit.record(services, "=HYPERLINK(\"http://evil\")", "auth.login_failed", outcome="failed",
                 detail={"reason": "+1+cmd"})
    clock.advance(minutes=2 * 24 * 60)
    audit.record(services, "admin:root", "user.created", subject="user:li")
    client = _signed_in(app, services, "city", "city_supervisor", [])
    only = client.get("/audit?action=user.created&actor=root", headers=HTML).get_data(as_text=True)
    assert 'data-subject="user:li"' in only and "HYPERLINK" not in only
    today = clock.now().date()
    recent = client.get(f"/audit?since={today.isoformat()}", headers=HTML).get_data(as_text=True)
    assert 'data-subject="user:li"' in recent and "HYPERLINK" not in recent
    older = client.get(f"/audit?until={(today - timedelta(days=1)).isoformat()}", headers=HTML).get_data(as_text=True)
    assert "HYPERLINK" in older and "user:li" not in older
    assert client.get("/audit?since=yesterday", headers={"Accept": "application/json"}).status_code == 422
    export = client.get("/audit.csv?action=auth.login_failed")
    assert export.mimetype == "text/csv" and "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0] == list(audit.EXPORT_COLUMNS)
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [row["action"] for row in body] == ["auth.login_failed"]
    assert body[0]["actor"].startswith("'=") and body[0]["detail"] == "reason=+1+cmd"
    assert any(e.action == "audit.exported" and e.actor == "city_supervisor:city" for e in _entries(services))


def test_cells_that_would_run_as_formulas_are_prefixed():
    text = audit.to_csv([{"id": 1, "at": "t", "actor": "-2+3", "action": "@SUM(A1)", "outcome": "ok", "site": None,
                          "subject": "=1", "detail": {}, "remote_addr": None}])
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[2:5] == ["'-2+3", "'@SUM(A1)", "ok"] and row[6] == "'=1"


def test_the_audit_log_cannot_be_edited(services):
    audit.record(services, "admin:root", "user.created")
    with pytest.raises(DBAPIError, match="append-only"), services.store.engine.begin() as conn:
        conn.execute(audit_log.update().values(actor="someone else"))
    assert _entries(services)[-1].actor == "admin:root"
