"""The pure part of the dashboard's open vials (app/domain/stock.py: open_vials_to_use) and of the
report's stock section (app/domain/reports.py: stock_section)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.reports import stock_section
from app.domain.stock import LotStock, Vial, open_vials_to_use

NOW = datetime(2026, 11, 24, 8, 10, tzinfo=UTC)  # 16:10 in Shanghai
CLOSES = datetime(2026, 11, 24, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def lot(name: str, *vials: tuple[int, str, int, int]) -> LotStock:
    """vials: (number, desk, doses left, minutes to discard)."""
    opened = tuple(Vial(number, desk, NOW - timedelta(hours=1), NOW + timedelta(minutes=minutes), left)
                   for number, desk, left, minutes in vials)
    return LotStock("bbibp-corv", name, date(2027, 6, 30), 5, doses=20, vials_opened=len(vials), open_vials=opened)


def test_every_dose_left_in_an_open_vial_needs_a_person_from_the_queue():
    lots = [lot("B", (1, "1", 3, 200)), lot("A", (2, "2", 4, 30), (3, "3", 2, 0)), lot("C")]
    vials = open_vials_to_use(lots, now=NOW, closes_at=CLOSES, at_injection=2, at_consent=3)
    # Soonest discard first; a vial whose time is up (minutes 0) is no longer open.
    assert [(row["lot"], row["vial"], row["doses_left"], row["minutes_left"]) for row in vials["open"]] == [
        ("A", 2, 4, 30), ("B", 1, 3, 200)]
    assert (vials["doses_left"], vials["people_needed"]) == (7, 7)
    assert vials["queue"] == {"injection": 2, "consent": 3, "total": 5}
    assert (vials["enough"], vials["short"]) == (False, 2)
    assert (vials["minutes_to_closing"], vials["near_closing"]) == (50, True)
    assert vials["closes_at"] == "2026-11-24T17:00:00+08:00"


def test_enough_people_early_in_the_day_and_no_vials_at_all():
    morning = NOW - timedelta(hours=7)  # 09:10
    vials = open_vials_to_use([lot("A", (1, "1", 5, 600))], now=morning, closes_at=CLOSES, at_injection=5,
                              at_consent=0)
    assert (vials["enough"], vials["short"], vials["near_closing"], vials["minutes_to_closing"]) == (True, 0, False, 470)
    assert vials["open"][0]["minutes_left"] == 600 + 7 * 60
    empty = open_vials_to_use([], now=NOW, closes_at=CLOSES, at_injection=0, at_consent=0)
    assert (empty["open"], empty["people_needed"], empty["enough"], empty["short"]) == ([], 0, True, 0)
    # An hour before closing exactly is near; after closing it stays so, with no minutes left.
    assert open_vials_to_use([], now=CLOSES - timedelta(hours=1), closes_at=CLOSES, at_injection=0,
                             at_consent=0)["near_closing"] is True
    late = open_vials_to_use([], now=CLOSES + timedelta(minutes=5), closes_at=CLOSES, at_injection=0, at_consent=0)
    assert (late["near_closing"], late["minutes_to_closing"]) == (True, 0)


def _row(lot_name: str, **figures) -> dict:
    base = {"product": "coronavac", "lot": lot_name, "expires_on": "2027-06-30", "doses_per_vial": 1, "opening": 0,
            "received": 0, "moved_in": 0, "moved_out": 0, "given": 0, "wasted": 0,
            "wasted_by_reason": {"expired_open_vial": 0, "broken": 0, "contaminated": 0, "cold_chain_breach": 0},
            "left": 0, "unopened_vials": 0, "vials_opened": 0, "open_vials": [], "counted": {}, "difference": 0,
            "balanced": True, "explanation": None, "explained": True}
    return {**base, **figures}


def test_the_reports_stock_section_totals_the_lots_and_lists_the_wastage_by_reason():
    sheet = {
        "site": "demo", "date": "2026-11-24", "as_of": "2026-11-24T09:00:00+00:00",
        "lots": [
            _row("L1", received=10, given=4, wasted=3, left=3, counted={"closing": 3},
                 wasted_by_reason={"expired_open_vial": 2, "broken": 1, "contaminated": 0, "cold_chain_breach": 0}),
            _row("L2", opening=5, given=1, left=3, counted={}, difference=-1, balanced=False, explained=False),
        ],
        "unexplained": ["L2"], "closed": None,
    }
    section = stock_section(sheet, ZoneInfo("Asia/Shanghai"))
    assert section["as_of"] == "2026-11-24T17:00:00+08:00"
    assert [line["counted_closing"] for line in section["lots"]] == [3, None]
    assert section["lots"][0]["wasted_by_reason"] == {"expired_open_vial": 2, "broken": 1}
    total = section["total"]
    assert (total["opening"], total["received"], total["given"], total["wasted"], total["left"]) == (5, 10, 5, 3, 6)
    assert (total["counted_closing"], total["difference"], total["balanced"], total["explained"]) == (3, -1, False,
                                                                                                       False)
    assert section["wastage"] == [{"product": "coronavac", "lot": "L1", "reason": "expired_open_vial", "doses": 2},
                                  {"product": "coronavac", "lot": "L1", "reason": "broken", "doses": 1}]
    assert section["wasted_by_reason"] == {"expired_open_vial": 2, "broken": 1}
    assert section["unexplained"] == ["L2"] and section["closed"] is None
    closed = stock_section({**sheet, "closed": {"at": "2026-11-24T10:30:00+00:00", "actor": "site_supervisor:wang",
                                                "day": "2026-11-24"}}, ZoneInfo("Asia/Shanghai"))["closed"]
    assert closed == {"at": "2026-11-24T18:30:00+08:00", "by": "site_supervisor:wang"}
