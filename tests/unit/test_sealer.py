"""The sealer: what goes in comes out, only with the right keys; lookups are keyed."""
from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timezone

import pytest

from app.store import sealing
from app.store.database import make_engine
from app.store.migrate import upgrade
from app.store.tables import sites

NOW = datetime(2026, 11, 24, 1, tzinfo=UTC)
PERSON = {"name": "张三", "document_type": "resident_id", "document_number": "11010519800101001X",
          "phone": "13800138000", "birth_date": "1980-01-01"}


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'seal.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sites.insert().values(id="demo", name="Demo", config={}, revision=1, seq=0, ticket_day=None,
                                           ticket_no=0, created_at=NOW, updated_at=NOW))
    yield engine
    engine.dispose()


def make(master: str | None = None, lookup: str | None = None) -> sealing.Sealer:
    return sealing.Sealer(sealing.parse_master_keys(master or sealing.generate_master_key()),
                          sealing.parse_lookup_key(lookup or sealing.generate_lookup_key()))


def test_records_round_trip_and_only_personal_parts_are_sealed(engine):
    sealer = make()
    with engine.begin() as conn:
        key = sealer.day_key(conn, "demo", date(2026, 11, 24), NOW)
    record = {"person": PERSON, "dose_number": 1,
              "consent": {"outcome": "eligible", "answers": {"fever": False}, "signature": "data:x", "desk": "A"}}
    sealed = sealing.seal_record(sealer, key, record)
    assert sealing.is_sealed(sealed["person"]) and sealed["dose_number"] == 1
    assert sealed["consent"]["outcome"] == "eligible" and "answers" not in sealed["consent"]
    assert "张三" not in str(sealed) and "fever" not in str(sealed)
    assert sealing.unseal_record(sealer, engine, sealed) == record
    assert record["person"] == PERSON  # the input is not changed


def test_a_plain_older_record_reads_as_it_is(engine):
    plain = {"person": PERSON, "consent": {"outcome": "eligible", "answers": {}}}
    assert sealing.unseal_record(make(), engine, plain) is plain


def test_another_master_key_cannot_open_and_says_which_data_key(engine):
    first = make()
    with engine.begin() as conn:
        key = first.day_key(conn, "demo", date(2026, 11, 24), NOW)
    sealed = first.seal(key, PERSON)
    with pytest.raises(sealing.SealingKeyError, match=r"Data key 1 \(site demo, 2026-11-24\)"):
        make().unseal(engine, sealed)


def test_a_tampered_value_is_refused(engine):
    sealer = make()
    with engine.begin() as conn:
        key = sealer.day_key(conn, "demo", date(2026, 11, 24), NOW)
    sealed = sealer.seal(key, PERSON)
    key_id, _, token = sealed["sealed"].partition(":")
    forged = {"sealed": f"{key_id}:{token[:-6]}AAAAAA"}
    with pytest.raises(sealing.SealingKeyError, match="altered"):
        sealer.unseal(engine, forged)


def test_rotation_rewraps_under_the_new_key_and_old_keys_can_go(engine):
    old, new = sealing.generate_master_key(), sealing.generate_master_key()
    lookup = sealing.generate_lookup_key()
    before = make(old, lookup)
    with engine.begin() as conn:
        key = before.day_key(conn, "demo", date(2026, 11, 24), NOW)
    sealed = before.seal(key, PERSON)
    assert make(f"{new},{old}", lookup).rewrap_all(engine) == 1
    assert make(new, lookup).unseal(engine, sealed) == PERSON


def test_a_data_key_made_in_a_rolled_back_transaction_is_never_reused(engine):
    master, lookup = sealing.generate_master_key(), sealing.generate_lookup_key()
    sealer = make(master, lookup)
    day = date(2026, 11, 24)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        lost = sealer.day_key(conn, "demo", day, NOW)
        raise RuntimeError("the append failed")
    with engine.begin() as conn:
        kept = sealer.day_key(conn, "demo", day, NOW)
    assert kept[1] is not lost[1]
    sealed = sealer.seal(kept, PERSON)
    # another process, same keys, empty cache: it opens what this one sealed
    assert make(master, lookup).unseal(engine, sealed) == PERSON


def test_a_value_read_inside_a_rolled_back_transaction_does_not_leave_its_key_cached(engine):
    sealer = make()
    day = date(2026, 11, 24)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        lost = sealer.day_key(conn, "demo", day, NOW)
        assert sealer.unseal(conn, sealer.seal(lost, {"n": 1})) == {"n": 1}  # read back before the failure
        raise RuntimeError("the append failed")
    with engine.begin() as conn:
        kept = sealer.day_key(conn, "demo", day, NOW)
    assert kept[0] == lost[0]  # SQLite gives the rolled-back id out again
    assert sealer.unseal(engine, sealer.seal(kept, PERSON)) == PERSON


def test_lookups_are_keyed_and_stable():
    lookup = sealing.generate_lookup_key()
    one, same, other = make(lookup=lookup), make(lookup=lookup), make()
    assert one.lookup("resident_id:1") == same.lookup("resident_id:1")
    assert one.lookup("resident_id:1") != other.lookup("resident_id:1")
    assert one.lookup("resident_id:1") != one.lookup("resident_id:2")
    assert "resident_id" not in one.lookup("resident_id:1") and len(one.lookup("x")) == 64


@pytest.mark.parametrize("bad", ["", "not-a-key", base64.urlsafe_b64encode(b"k" * 32).decode()[:-4]],
                         ids=["empty", "not-base64", "truncated"])
def test_malformed_master_keys_are_refused_clearly(bad):
    with pytest.raises(sealing.SealingKeyError, match="SITEFLOW_DATA_KEYS"):
        sealing.parse_master_keys(bad)


def test_short_lookup_keys_are_refused():
    with pytest.raises(sealing.SealingKeyError, match="32"):
        sealing.parse_lookup_key("c2hvcnQ")
