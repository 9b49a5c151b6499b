"""A whole simulated day at the demo site ends with a reconciled stock sheet: every lot counted
at closing, nothing unexplained, the day's stock closed, and the doses on the sheet are the
doses the day's records hold."""
from __future__ import annotations

from datetime import date

import httpx

from app.client import SiteFlowClient
from app.domain.permissions import Principal
from app.domain.stock import Entry, StockLedger, day_sheet
from app.flow import analytics, stock
from app.flow import tokens as token_flow
from app.flow.figures import day_bounds
from app.sim.bots import HttpActions
from app.sim.day import DayPlan, FlowActions, run_day

BOSS = Principal(name="boss", role="site_supervisor", sites=frozenset({"demo"}))


def test_a_demo_day_ends_with_a_reconciled_stock_sheet_and_nothing_unexplained(day_app, clock):
    services = day_app.extensions["siteflow"]
    plan = DayPlan(people=260, hours=8, seed=19, close_stock=True)
    result = run_day(FlowActions(services, "demo"), plan, advance=lambda delta: clock.advance(
        seconds=delta.total_seconds()))
    assert result.released > 200
    sheet = stock.sheet(services, BOSS, site_id="demo")
    assert sheet["closed"] is not None and sheet["unexplained"] == []
    lines = sheet["lots"]
    assert {line["lot"] for line in lines} == {"202610A127", "202609B2114", "Z20261103"}
    for line in lines:
        assert line["balanced"], line
        assert line["given"] + line["wasted"] + line["left"] == line["opening"] + line["received"] - line["moved_out"]
        assert line["counted"] == {"closing": line["left"]}
    # Today's sheet starts from the lots as the day began (kept beside the log): the same as a
    # fold of the whole log.
    site = services.store.site("demo").site
    start, end = day_bounds(site, date.fromisoformat(sheet["date"]))
    ledger, opened = StockLedger(), False
    for event in services.store.site_events("demo"):
        if not opened and event.at >= start:
            ledger.open_day(date.fromisoformat(sheet["date"]), start, end)
            opened = True
        ledger.apply(Entry(event.seq, event.type, event.at, event.data, event.desk, event.actor))
    assert day_sheet(ledger, min(clock.now(), end)) == lines
    # The sheet's doses are the day's injections, lot by lot.
    report = analytics.daily_report(services, BOSS, site_id="demo", day=clock.now().date())
    assert sum(line["given"] for line in lines) == report["totals"]["doses"] > 200
    # Two-dose vials opened at the booths: each opened vial is used or its rest wasted, no dose lost.
    two_dose = next(line for line in lines if line["lot"] == "202609B2114")
    assert two_dose["vials_opened"] >= 1
    in_open = sum(vial["doses_left"] for vial in two_dose["open_vials"])
    assert two_dose["given"] + two_dose["wasted"] + in_open == 2 * two_dose["vials_opened"]
    # That night the vials still open pass their discard time: their doses are wasted, then, and
    # the day still balances (the waste came after the closing count).
    clock.advance(hours=8)
    day = date.fromisoformat(sheet["date"])
    night = next(line for line in stock.sheet(services, BOSS, site_id="demo", day=day)["lots"]
                 if line["lot"] == "202609B2114")
    assert night["balanced"] and night["given"] == two_dose["given"]
    assert night["wasted"] - two_dose["wasted"] == two_dose["left"] - night["left"] >= 0


def test_the_demo_bots_close_the_stock_over_the_api_too(day_app, clock):
    """The demo's bots work over HTTP (app/sim/bots.py HttpActions): their closing count and the
    day's closing go through the stock endpoints."""
    services = day_app.extensions["siteflow"]
    token = token_flow.create_token(services, role="admin", site_id=None, station=None, name="demo-bots")
    client = SiteFlowClient("http://siteflow.test", token, transport=httpx.WSGITransport(app=day_app))
    plan = DayPlan(people=30, hours=1, seed=4, close_stock=True)
    with client:
        result = run_day(HttpActions(client, "demo", clock), plan,
                         advance=lambda delta: clock.advance(seconds=delta.total_seconds()))
    assert result.released > 20 and result.refused == 0
    sheet = stock.sheet(services, BOSS, site_id="demo")
    assert sheet["closed"]["actor"] == "admin:demo-bots" and sheet["unexplained"] == []
    assert all(line["counted"] == {"closing": line["left"]} for line in sheet["lots"])
    assert sum(line["given"] for line in sheet["lots"]) == result.released
