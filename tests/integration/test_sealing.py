"""A stolen database file alone reveals no names, ID numbers, phones or health answers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from app import create_app
from app.cli import cli
from app.domain.errors import Conflict
from app.flow import sites as site_flow
from app.store import sealing
from app.store.migrate import upgrade
from app.store.tables import data_keys, events, sites, visits
from tests.conftest import DEMO_SITE
from tests.support.api import (
    act,
    assert_error,
    call_next,
    checker,
    japi,
)
from tests.support.factories import gen_answers, gen_checkin, gen_consent

NAME, PHONE = "欧阳秘密", "13912345678"
SIGNATURE = "data:image/png;base64,U0VDUkVUU0lHTkFUVVJF"


def _all_stored_text(engine) -> str:
    """Every row of every table, as text: what someone holding the database would read."""
    out = []
    with engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if engine.dialect.name == "sqlite"
            else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )).scalars().all()
        for table in tables:
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                out.append(json.dumps([str(value) for value in row], ensure_ascii=False))
    return "\n".join(out)


def test_personal_data_is_sealed_in_every_table_yet_reads_back(japi, services, database_url, tmp_path):
    body = gen_checkin(name=NAME, phone=PHONE)
    number = body["document_number"]
    visit = japi.post("/sites/demo/visits", body).get_json()["visit"]
    call_next(japi, "consent", "A")
    act(japi, visit["id"], "consent", gen_consent("A", answers=gen_answers(pregnancy=True), signature=SIGNATURE,
                                                 outcome="deferred", deferral_reason="pregnancy"))
    # the application reads it all back
    detail = japi.get(f"/sites/demo/visits/{visit['id']}").get_json()
    assert detail["visit"]["person"]["name"] == NAME and detail["visit"]["person"]["document_number"] == number
    assert detail["visit"]["consent"]["answers"]["pregnancy"] is True
    assert detail["events"][0]["data"]["person"]["phone"] == PHONE
    # the database does not
    stored = _all_stored_text(services.store.engine)
    for secret in (NAME, number, number[-8:], PHONE, SIGNATURE, "U0VDUkVU", '"answers"', "pregnancy\": true"):
        assert secret not in stored, secret
    assert "deferred" in stored and "pregnancy" in stored  # the outcome and reason stay clear for reports
    if database_url.startswith("sqlite"):
        with services.store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        for secret in (NAME, number, PHONE):
            assert secret.encode() not in raw, secret


def test_the_same_id_number_is_still_found_again_full_width_digits_included(japi):
    first = gen_checkin()
    assert japi.post("/sites/demo/visits", first).status_code == 201
    full_width = first["document_number"].translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert_error(japi.post("/sites/demo/visits", dict(first, document_number=full_width)), 409, "duplicate_visit")


def test_one_data_key_per_site_and_day(japi, services, clock):
    japi.post("/sites/demo/visits", gen_checkin())
    japi.post("/sites/demo/visits", gen_checkin())
    clock.advance(minutes=24 * 60)
    japi.post("/sites/demo/visits", gen_checkin())
    with services.store.engine.connect() as conn:
        rows = conn.execute(data_keys.select()).all()
    assert len(rows) == 2 and rows[0].day != rows[1].day
    assert all(row.wrapped.startswith("gAAAA") for row in rows)  # Fernet tokens, not raw keys


# --- rotation, end to end through the command line ---------------------------------------------

@pytest.fixture
def keyed_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'keys.db'}")
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


def _app_with(monkeypatch, data_keys_value: str, lookup: str):
    monkeypatch.setenv("SITEFLOW_DATA_KEYS", data_keys_value)
    monkeypatch.setenv("SITEFLOW_LOOKUP_KEY", lookup)
    app = create_app()
    upgrade(app.extensions["siteflow"].store.engine)
    site_flow.load_site_file(app.extensions["siteflow"], DEMO_SITE)
    return app


def _check_in(app, body) -> tuple[int, dict]:
    from app.domain.permissions import Principal
    from app.flow import visits as flow

    services = app.extensions["siteflow"]
    try:
        outcome = flow.check_in(services, Principal("t", "admin"), site_id="demo", idempotency_key=None, **body)
    except Conflict as exc:  # anything else (a key that does not open, ...) fails the test
        return 409, {"error": exc.code}
    return 201, {"id": outcome.visit.id}


def test_master_key_rotation_keeps_everything_readable(keyed_env):
    k1, k2, k3 = (sealing.generate_master_key() for _ in range(3))
    lookup = sealing.generate_lookup_key()
    app = _app_with(keyed_env, k1, lookup)
    status, created = _check_in(app, gen_checkin(name=NAME))
    assert status == 201
    app.extensions["siteflow"].store.engine.dispose()
    # the new key goes first, the old one stays until everything is rewrapped
    keyed_env.setenv("SITEFLOW_DATA_KEYS", f"{k2},{k1}")
    keyed_env.setenv("SITEFLOW_LOOKUP_KEY", lookup)
    rotated = CliRunner().invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0 and "1 data keys rewrapped" in rotated.output, rotated.output
    app = _app_with(keyed_env, k2, lookup)  # the old key is gone
    assert app.extensions["siteflow"].store.visit("demo", created["id"]).person.name == NAME
    app.extensions["siteflow"].store.engine.dispose()
    # with an unrelated key nothing opens, and the error says which key and why
    app = _app_with(keyed_env, k3, lookup)
    with pytest.raises(sealing.SealingKeyError, match="cannot be unwrapped"):
        app.extensions["siteflow"].store.visit("demo", created["id"])
    keyed_env.setenv("SITEFLOW_DATA_KEYS", k3)
    refused = CliRunner().invoke(cli, ["keys", "rotate"])
    assert refused.exit_code != 0 and "cannot be unwrapped" in refused.output and k1 not in refused.output


def test_lookup_key_rotation_rehashes_the_id_lookups(keyed_env):
    key = sealing.generate_master_key()
    old, new = sealing.generate_lookup_key(), sealing.generate_lookup_key()
    body = gen_checkin()
    app = _app_with(keyed_env, key, old)
    assert _check_in(app, body)[0] == 201
    app.extensions["siteflow"].store.engine.dispose()
    keyed_env.setenv("SITEFLOW_LOOKUP_KEY", new)
    rehashed = CliRunner().invoke(cli, ["keys", "rehash"])
    assert rehashed.exit_code == 0 and "1 visits and 0 bookings rehashed" in rehashed.output, rehashed.output
    app = _app_with(keyed_env, key, new)
    assert _check_in(app, body) == (409, {"error": "duplicate_visit"})  # the same person is still caught
    with app.extensions["siteflow"].store.engine.connect() as conn:
        stored = conn.execute(visits.select()).first().document_key
    assert stored == app.extensions["siteflow"].store.sealer.lookup(f"resident_id:{body['document_number']}")


def test_keys_generate_prints_usable_keys():
    out = CliRunner().invoke(cli, ["keys", "generate"]).output
    values = dict(line.split("=", 1) for line in out.strip().splitlines())
    sealing.Sealer(sealing.parse_master_keys(values["SITEFLOW_DATA_KEYS"]),
                   sealing.parse_lookup_key(values["SITEFLOW_LOOKUP_KEY"]))
    assert values["SITEFLOW_DATA_KEYS"] != values["SITEFLOW_LOOKUP_KEY"]


def test_events_stay_append_only_while_keys_rotate(keyed_env):
    app = _app_with(keyed_env, sealing.generate_master_key(), sealing.generate_lookup_key())
    _check_in(app, gen_checkin())
    with app.extensions["siteflow"].store.engine.connect() as conn:
        before = conn.execute(events.select()).all()
    assert CliRunner().invoke(cli, ["keys", "rotate"]).exit_code == 0
    with app.extensions["siteflow"].store.engine.connect() as conn:
        assert conn.execute(events.select()).all() == before


# --- rows written before sealing --------------------------------------------------------------

def test_a_visit_stored_before_sealing_still_reads_is_found_after_rehash_and_sealed_at_its_next_change(
    japi, services,
):
    store = services.store
    old_id, body = "0ld0000000000000000000000000v151", gen_checkin(name=NAME, phone=PHONE)
    number = body["document_number"]
    made = japi.post("/sites/demo/visits", gen_checkin()).get_json()["visit"]
    # the same rows again for someone else, as the store wrote them before sealing: the person
    # in clear in the visit and its event, the document number in clear in document_key
    with store.engine.begin() as conn:
        row = conn.execute(select(visits).where(visits.c.id == made["id"])).mappings().one()
        event = conn.execute(select(events).where(events.c.visit_id == made["id"])).mappings().one()
        seq = conn.execute(select(sites.c.seq).where(sites.c.id == "demo")).scalar_one() + 1
        data = sealing.unseal_record(store.sealer, conn, row["data"])
        data.update(id=old_id, ticket="X001", queue_pos=seq,
                    person=dict(data["person"], name=NAME, document_number=number, phone=PHONE))
        conn.execute(visits.insert().values(**dict(
            row, id=old_id, ticket="X001", queue_pos=seq, document_key=f"resident_id:{number}", data=data)))
        event_data = dict(sealing.unseal_record(store.sealer, conn, event["data"]), ticket="X001",
                          person=data["person"])
        conn.execute(events.insert().values(**{
            **{name: value for name, value in event.items() if name != "id"},
            "seq": seq, "visit_id": old_id, "data": event_data, "idempotency_key": None, "request_hash": None,
        }))
        conn.execute(update(sites).where(sites.c.id == "demo").values(seq=seq))
    # it reads like any other visit
    assert store.visit("demo", old_id).person.name == NAME
    detail = japi.get(f"/sites/demo/visits/{old_id}").get_json()
    assert detail["visit"]["person"]["document_number"] == number
    assert detail["events"][0]["data"]["person"]["phone"] == PHONE
    # its clear document_key is not a keyed hash: the same person is found again only after the rehash
    assert store.rehash_documents() == 2
    with store.engine.connect() as conn:
        lookup = conn.execute(select(visits.c.document_key).where(visits.c.id == old_id)).scalar_one()
    assert number not in lookup and lookup == store.sealer.lookup(f"resident_id:{number}")
    assert_error(japi.post("/sites/demo/visits", body), 409, "duplicate_visit")
    # the visit row is sealed at its next change; the old event stays as written (append-only)
    assert call_next(japi, "consent", "A")["id"] == made["id"]
    assert call_next(japi, "consent", "B")["id"] == old_id
    with store.engine.connect() as conn:
        stored = json.dumps(conn.execute(select(visits.c.data).where(visits.c.id == old_id)).scalar_one(),
                            ensure_ascii=False)
        first = conn.execute(select(events.c.data).where(events.c.seq == seq)).scalar_one()
    assert NAME not in stored and PHONE not in stored and sealing.is_sealed(json.loads(stored)["person"])
    assert first["person"]["name"] == NAME
    assert store.visit("demo", old_id).person.name == NAME
