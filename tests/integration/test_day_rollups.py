"""Finished days are rolled up once and stored: the 14-day trends (one site, and the whole city
in one answer) and a past day's city ranking read the rollups, and equal the days' events."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func, select

from app.domain.permissions import Principal
from app.flow import analytics
from app.sim.day import DayPlan, FlowActions, run_day
from app.store.tables import day_rollups
from tests.conftest import build_app
from tests.support.factories import gen_checkin

BOSS = Principal(name="boss", role="site_supervisor", sites=frozenset({"demo"}))
CITY = Principal(name="city", role="city_supervisor")


def doses_by_local_day(services):
    site = services.store.site("demo").site
    return Counter(event.at.astimezone(site.tz).date().isoformat()
                   for event in services.store.site_events("demo") if event.type == "injected")


def play_days(services, clock, days):
    for number in range(days):
        run_day(FlowActions(services, "demo"), DayPlan(people=12, hours=1, seed=number, p_no_show=0, p_defer=0),
                advance=lambda delta: clock.advance(seconds=delta.total_seconds()))
        clock.advance(days=1)
        clock.set(clock.now().replace(hour=1, minute=0))  # 09:00 at the site, the next day


def test_trends_and_past_rankings_come_from_rollups_that_equal_the_log(app, clock, api, database_url):
    services = app.extensions["siteflow"]
    play_days(services, clock, 2)
    assert api.post("/sites/demo/visits", gen_checkin()).status_code == 201  # today is live
    expected = doses_by_local_day(services)
    assert len(expected) == 2 and all(expected.values())

    trend = analytics.doses_per_day(services, BOSS, site_id="demo", days=14)
    assert len(trend) == 14 and trend[-1]["date"] == clock.now().date().isoformat()
    assert {row["date"]: row["doses"] for row in trend if row["doses"]} == dict(expected)
    with services.store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(day_rollups)).scalar_one()
    assert stored == 13  # every finished day of the window, once; today is live

    # The city's trends in one answer, the same figures; the stored days are not stored again.
    city = analytics.city_trend(services, CITY, days=14)
    assert city == {"sites": [{"site": "demo", "days": trend}]}
    assert api.get("/reports/city/trend", days="14").get_json() == city
    with services.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(day_rollups)).scalar_one() == 13

    # A past day's ranking from its rollup equals the day folded from its events.
    first_day = min(expected)
    day = date.fromisoformat(first_day)
    ranking = analytics.city_report(services, CITY, day=day)
    model = services.figures.past_day("demo", day)
    end = analytics.day_bounds(model.site, day)[1] - timedelta(microseconds=1)
    assert ranking["date"] == first_day
    # (with the day's bookings beside it: none here)
    assert ranking["sites"] == [dict(model.city_row(end), rank=1, booked=0, arrived=0, no_show=0)]
    assert ranking["sites"][0]["doses"] == expected[first_day]

    # Another process answers from the same rollups.
    other = build_app(database_url, clock)
    try:
        assert analytics.doses_per_day(other.extensions["siteflow"], BOSS, site_id="demo", days=14) == trend
    finally:
        other.extensions["siteflow_live"].stop()
        other.extensions["siteflow"].store.engine.dispose()


def test_a_trend_refuses_a_bad_number_of_days(api):
    assert api.get("/reports/city/trend", days="0").status_code == 422
    assert api.get("/reports/city/trend", days="32").get_json()["error"]["fields"] == {
        "days": "must be a whole number from 1 to 31"}
