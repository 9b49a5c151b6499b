"""Every dashboard and report figure, checked against a brute-force recomputation from the raw
events, at checkpoints through a simulated day of hundreds of people with deferrals, refusals,
no-shows, adverse events, undos and a supervisor's corrections."""
from __future__ import annotations

import io
import random

from openpyxl import load_workbook

from app.domain.errors import DomainError
from app.domain.permissions import Principal
from app.flow import analytics
from app.flow import visits as flow
from app.sim.day import DayPlan, FlowActions, run_day
from tests.support.brute_force import brute_force, compare_dashboard

BOT = Principal(name="bot", role="admin")
BOSS = Principal(name="boss", role="site_supervisor", sites=frozenset({"demo"}))

# --- the day -----------------------------------------------------------------------------------

def _extras(services, rng, now, corrections):
    """What the bots do not do: a few supervisor's corrections, and undos of the last action."""
    rows = services.store.list_visits("demo", states=("deferred", "no_show", "refused"), station=None,
                                      day=now.astimezone(services.store.site("demo").site.tz).date(), limit=1000)
    if rows and corrections["left"] > 0 and rng.random() < 0.3:
        corrections["left"] -= 1
        visit = rng.choice(rows)
        last = services.store.visit_events("demo", visit.id)[-1]
        try:
            flow.correct(services, BOSS, site_id="demo", visit_id=visit.id, reason="re-screened",
                         state="waiting", station="consent", corrects_seq=last.seq)
        except DomainError:
            pass
    # Undo the very last event if the bots may (a call, a consent, a release ...).
    site_row = services.store.site("demo")
    recent = services.store.site_events("demo", after_seq=max(0, site_row.seq - 1))
    if recent and recent[-1].actor == BOT.actor and rng.random() < 0.6:
        try:
            flow.undo(services, BOT, site_id="demo", visit_id=recent[-1].visit_id, seq=recent[-1].seq)
        except DomainError:
            pass


def test_the_dashboard_equals_a_brute_force_recomputation_all_day(day_app, clock):
    services = day_app.extensions["siteflow"]
    site = services.store.site("demo").site
    rng = random.Random(11)
    checked = {"points": 0}
    step = {"n": 0}
    corrections = {"left": 4}

    def advance(delta):
        step["n"] += 1
        if step["n"] % 7 == 0:
            _extras(services, rng, clock.now(), corrections)
        clock.advance(seconds=delta.total_seconds())
        if step["n"] % 45 == 0:  # a checkpoint: the live figures against the raw log
            view = analytics.dashboard(services, BOSS, site_id="demo")
            now = clock.now()
            compare_dashboard(view, brute_force(services.store.site_events("demo"), site, now))
            checked["points"] += 1

    plan = DayPlan(people=320, hours=5, seed=5, p_defer=0.06, p_refuse=0.02, p_no_show=0.06, p_aefi=0.03)
    result = run_day(FlowActions(services, "demo"), plan, advance=advance)
    assert result.checked_in > 280 and checked["points"] >= 6
    # Late in the evening: a person who never left is "lost", and the closed-loop check lists them.
    clock.advance(hours=3)
    now = clock.now()
    view = analytics.dashboard(services, BOSS, site_id="demo")
    expected = brute_force(services.store.site_events("demo"), site, now)
    compare_dashboard(view, expected)
    kinds = {key[0] for key in expected["outcomes"]}
    assert {"vaccinated", "deferred", "refused", "turned_away"} <= kinds, kinds  # the day had them all
    types = {e.type for e in services.store.site_events("demo")}
    assert {"requeued", "aefi_reported", "aefi_resolved", "recalled"} & types >= {"requeued", "aefi_reported"}
    assert expected["aefi"], "no adverse event in the day"
    undone = [e for e in services.store.site_events("demo") if e.type == "reverted"]
    corrected = [e for e in services.store.site_events("demo") if e.type == "corrected"]
    assert undone and corrected

    report = analytics.daily_report(services, BOSS, site_id="demo")
    loop = report["closed_loop"]
    assert loop["checked_in"] == len(expected["visits"])
    assert loop["consistent"] and loop["accounted_for"] + len(loop["not_closed"]) == loop["checked_in"]
    assert sorted(row["ticket"] for row in loop["not_closed"]) == expected["open"]
    assert report["by_dose"] == {str(dose): n for dose, n in sorted(expected["doses_by_dose"].items())}
    assert report["by_age_band"] == dict(sorted(expected["doses_by_age"].items()))
    assert sum(row["doses"] for row in report["by_hour"]) == expected["doses"]
    assert all(row["name"] for row in report["aefi"])  # a supervisor's report names the person

    # The XLSX has the same figures.
    from app.flow.report_files import to_xlsx

    book = load_workbook(io.BytesIO(to_xlsx([report])))
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["doses"] == expected["doses"] and summary["checked_in"] == len(expected["visits"])
    lots = {(row[0], row[1]): row[2] for row in book["By product and lot"].iter_rows(min_row=2, values_only=True)}
    assert lots == dict(expected["doses_by_product"])
    hours = {row[0]: row[2] for row in book["By hour"].iter_rows(min_row=2, values_only=True)}
    assert {str(hour): n for hour, n in hours.items() if n} == expected["doses_by_hour"]
    assert book["AEFI"].max_row - 1 == len(expected["aefi"])
