"""The simulator replays a booking file: the booked people arrive at their slots (plus a
lateness, or not at all), beside the scenario's walk-ins; `siteflow simulate` and `siteflow plan`
take the file with --bookings; the no-show share and lateness can be measured from a past day."""
from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.domain.appointments import BookingFileInvalid
from app.domain.permissions import Principal
from app.sim import runner
from app.sim.bookings import BookingDayError, read_booked_day, with_bookings
from app.sim.model import Replication, arrival_times, run_replication
from app.sim.results import summarise
from app.sim.scenario import parse_scenario
from tests.support.factories import gen_resident_id

HEADER = "slot_start,name,document_type,document_number,phone,dose_number,group"
TODAY = date(2026, 12, 1)
# One check-in desk that takes 0.9 minutes a person: 66 an hour. 240 booked over 08:00-12:00 is
# 60 an hour when spread evenly (a short queue), 180 in the first 90 minutes with a morning peak.
SCENARIO = {
    "name": "one desk", "opens": "08:00:00", "closes": "12:00:00", "sample_every": 5,
    "stations": [{"name": "checkin", "servers": 1, "service": {"kind": "fixed", "value": 0.9}},
                 {"name": "injection", "servers": 2, "service": {"kind": "fixed", "value": 1.0}}],
    "arrivals": [{"kind": "appointments", "start": "08:00:00", "end": "12:00:00", "every_minutes": 30,
                  "people": 1}],
}


def booking_file(counts: dict[str, int], day: str = "2026-11-20", bad: str | None = None) -> bytes:
    """A CSV with `counts` people booked at each slot ("HH:MM") of `day` (a past day: replayed)."""
    lines = [HEADER]
    for slot, count in counts.items():
        lines += [f"{day}T{slot},王小明,resident_id,{gen_resident_id()},,1,社区一" for _ in range(count)]
    if bad:
        lines.append(bad)
    return ("\n".join(lines) + "\n").encode()


EVEN = {f"{8 + i // 2:02d}:{30 * (i % 2):02d}": 30 for i in range(8)}  # 30 in each of 8 half-hours
PEAK = {"08:00": 70, "08:30": 70, "09:00": 40, "09:30": 20, "10:00": 10, "10:30": 10, "11:00": 10, "11:30": 10}


def _replayed(counts: dict[str, int], *, no_show: float = 0.0, late_sd: float = 5.0, walk_ins: float = 0.0):
    data = dict(SCENARIO)
    if walk_ins:
        data["arrivals"] = [*SCENARIO["arrivals"], {"kind": "poisson", "rate_per_hour": walk_ins}]
    booked = read_booked_day(booking_file(counts), today=TODAY)
    return with_bookings(parse_scenario(data), booked, no_show=no_show, late_sd=late_sd)


def test_a_morning_peak_makes_a_longer_morning_queue_than_the_same_bookings_spread_evenly():
    assert sum(PEAK.values()) == sum(EVEN.values()) == 240
    peak, even = (summarise(scenario, runner.run(scenario, replications=3, seed=7, processes=1))
                  for scenario in (_replayed(PEAK), _replayed(EVEN)))
    assert peak["arrived"]["mean"] == even["arrived"]["mean"] == 240  # no no-shows: everyone comes

    def morning(summary, key):
        return sum(hour["stations"]["checkin"][key] for hour in summary["by_hour"] if hour["hour"] in (8, 9))

    assert [hour["hour"] for hour in peak["by_hour"]][:4] == [8, 9, 10, 11]
    assert morning(peak, "mean_queue") > 2 * morning(even, "mean_queue")
    assert morning(peak, "max_queue") > morning(even, "max_queue")
    assert peak["by_hour"][0]["arrived"] > even["by_hour"][0]["arrived"]
    # the 10:00 question: more people still waiting at check-in then after the peak
    at_ten = {name: next(h for h in s["by_hour"] if h["hour"] == 10)["stations"]["checkin"]["queue_at_start"]
              for name, s in (("peak", peak), ("even", even))}
    assert at_ten["peak"] > at_ten["even"]


def test_with_no_show_one_nobody_booked_comes_and_walk_ins_still_do():
    alone = run_replication(_replayed(EVEN, no_show=1.0), seed=3)
    assert alone.arrived == 0 and alone.no_shows == 240 and alone.served == 0
    with_walk_ins = run_replication(_replayed(EVEN, no_show=1.0, walk_ins=30), seed=3)
    assert with_walk_ins.no_shows == 240 and 60 <= with_walk_ins.arrived <= 200  # Poisson, 30 an hour for 4 hours
    # A scenario fitted from a real day: its Poisson arrivals are every check-in, so they give way too.
    fitted = parse_scenario(dict(SCENARIO, arrivals=[{"kind": "poisson", "rate_per_hour": 30}]))
    replayed = with_bookings(fitted, read_booked_day(booking_file(EVEN), today=TODAY), no_show=1.0, late_sd=5,
                             walk_ins=False)
    assert [source.kind for source in replayed.arrivals] == ["booked"]
    assert run_replication(replayed, seed=3).arrived == 0


def test_arrivals_are_the_slots_plus_a_truncated_lateness_and_the_appointment_blocks_give_way():
    scenario = _replayed({"09:00": 50, "10:30": 50}, late_sd=4.0)
    assert [source.kind for source in scenario.arrivals] == ["booked"]  # the scenario's block is gone
    times = [at for at, _ in arrival_times(scenario, random.Random(1), Replication(seed=1))]
    first, second = times[:50], times[50:]
    assert all(60 - 12 <= at <= 60 + 12 for at in first) and all(150 - 12 <= at <= 150 + 12 for at in second)
    on_time = _replayed({"09:00": 10}, late_sd=0.0)
    assert [at for at, _ in arrival_times(on_time, random.Random(1), Replication(seed=1))] == [60.0] * 10


def test_the_file_is_read_all_or_nothing_a_past_day_is_fine_and_one_day_is_replayed():
    booked = read_booked_day(booking_file({"09:00": 3, "09:30": 2}), today=TODAY)
    assert booked.day == date(2026, 11, 20) and booked.slots == {time(9, 0): 3, time(9, 30): 2}
    with pytest.raises(BookingFileInvalid) as refused:
        read_booked_day(booking_file({"09:00": 3}, bad="2026-11-20T09:00,李四,resident_id,123,,1,"), today=TODAY)
    assert [problem.line for problem in refused.value.problems] == [5]
    two_days = booking_file({"09:00": 2}) + booking_file({"10:00": 3}, day="2026-11-21").split(b"\n", 1)[1]
    with pytest.raises(BookingDayError, match="2 days"):
        read_booked_day(two_days, today=TODAY)
    chosen = read_booked_day(two_days, today=TODAY, day=date(2026, 11, 21))
    assert chosen.slots == {time(10, 0): 3} and chosen.other_days == {date(2026, 11, 20): 2}


# --- the command line ---------------------------------------------------------------------------------

def _files(tmp_path: Path) -> tuple[Path, Path]:
    scenario = tmp_path / "site.toml"
    scenario.write_text(
        'name = "one desk"\nopens = 08:00:00\ncloses = 12:00:00\n'
        '[[stations]]\nname = "checkin"\nservers = 1\nservice = { kind = "fixed", value = 1.5 }\n'
        '[[arrivals]]\nkind = "poisson"\nrate_per_hour = 6\n', encoding="utf-8")
    bookings = tmp_path / "bookings.csv"
    bookings.write_bytes(booking_file(PEAK))
    return scenario, bookings


def test_simulate_and_plan_with_bookings_on_the_command_line(tmp_path):
    scenario, bookings = _files(tmp_path)
    done = CliRunner().invoke(cli, ["simulate", str(scenario), "--bookings", str(bookings), "--no-show", "0.1",
                                    "--late-sd-minutes", "5", "--replications", "2", "--processes", "1",
                                    "--json", str(tmp_path / "out.json")])
    assert done.exit_code == 0, done.output
    assert "240 booked in 8 slots (08:00-11:30); no-show 10.0%" in done.output
    assert "walk-ins (1 poisson" in done.output and "by hour" in done.output and "\n  10:00 " in done.output
    figures = json.loads((tmp_path / "out.json").read_text())
    assert 180 <= figures["arrived"]["mean"] <= 300 and figures["by_hour"][0]["hour"] == 8
    planned = CliRunner().invoke(cli, ["plan", str(scenario), "--bookings", str(bookings), "--replications", "2",
                                       "--max-median", "45"])
    assert planned.exit_code in (0, 1), planned.output
    assert "With the scenario's desks (checkin 1)" in planned.output
    assert "With the recommended desks and seats:" in planned.output and "recommended" in planned.output


def test_booking_options_are_checked_on_the_command_line(tmp_path):
    scenario, bookings = _files(tmp_path)
    invoke = CliRunner().invoke
    alone = invoke(cli, ["simulate", str(scenario), "--no-show", "0.2"])
    assert alone.exit_code == 2 and "--bookings" in alone.output
    both = invoke(cli, ["plan", str(scenario), "--bookings", str(bookings), "--people", "100"])
    assert both.exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_bytes(booking_file({"09:00": 2}, bad="2026-11-20T25:00,李四,resident_id,123,,1,"))
    refused = invoke(cli, ["simulate", str(scenario), "--bookings", str(bad), "--replications", "2"])
    assert refused.exit_code == 1 and "line 4: slot_start" in refused.output
    measured_too = invoke(cli, ["simulate", str(scenario), "--bookings", str(bookings), "--no-show", "0.1",
                                "--measured-from", "demo:2026-11-20"])
    assert measured_too.exit_code == 2 and "--measured-from" in measured_too.output
    malformed = invoke(cli, ["simulate", str(scenario), "--bookings", str(bookings), "--measured-from", "demo"])
    assert malformed.exit_code == 2 and "SITE:YYYY-MM-DD" in malformed.output


# --- measured rates --------------------------------------------------------------------------------

def _a_day_of_bookings(services, clock) -> None:
    """At the demo site (Asia/Shanghai) on 2026-11-24: 10 booked at 08:00; 6 check in, at 07:56,
    08:00, 08:04, 08:08, 08:12 and 08:16 local; 4 never come."""
    from app.flow import appointments, booking_files
    from app.flow import visits as visit_flow

    admin = Principal(name="test", role="admin")
    clock.set(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))  # 07:00 local: the day's bookings go in first
    content = booking_file({"08:00": 10}, day="2026-11-24")
    appointments.import_rows(services, admin, site_id="demo", rows=booking_files.rows_of(content), content=content)
    page, _ = appointments.list_day(services, admin, site_id="demo", day=date(2026, 11, 24), after=0, limit=10)
    for n, booking in enumerate(page[:6]):
        clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC) + timedelta(minutes=4 * n - 4))
        visit_flow.check_in(services, admin, site_id="demo", health_code="green", appointment_code=booking["code"])


def test_no_show_and_lateness_measured_from_a_day_of_bookings_and_check_ins(day_app, clock):
    from app.flow import simulation

    services = day_app.extensions["siteflow"]
    admin = Principal(name="test", role="admin")
    _a_day_of_bookings(services, clock)
    clock.set(datetime(2026, 11, 24, 0, 30, tzinfo=UTC))  # 08:30: the slot is not over, nobody is a no-show yet
    pending = simulation.booking_rates(services, admin, site_id="demo", day=date(2026, 11, 24))
    assert (pending.arrived, pending.no_shows) == (6, 0) and pending.no_show == 0
    clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # 10:00: after the slot and the grace period
    rates = simulation.booking_rates(services, admin, site_id="demo", day=date(2026, 11, 24))
    assert (rates.bookings, rates.arrived, rates.no_shows) == (10, 6, 4)
    assert rates.no_show == pytest.approx(0.4)
    assert rates.late_mean == pytest.approx(6.0) and rates.late_sd == pytest.approx(7.483, abs=0.01)
    none = simulation.booking_rates(services, admin, site_id="demo", day=date(2026, 11, 25))
    assert none.bookings == 0 and none.no_show is None


def test_simulate_with_rates_measured_from_the_instance_database(tmp_path, monkeypatch):
    from app import create_app
    from app.clock import FixedClock

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SITEFLOW_SITES", str(Path(__file__).resolve().parents[2] / "sites"))
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    invoke = CliRunner().invoke
    assert invoke(cli, ["init"]).exit_code == 0
    clock = FixedClock(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    app = create_app({"CLOCK": clock})
    _a_day_of_bookings(app.extensions["siteflow"], clock)
    app.extensions["siteflow_live"].stop()
    app.extensions["siteflow"].store.engine.dispose()
    scenario, bookings = _files(tmp_path)
    done = invoke(cli, ["simulate", str(scenario), "--bookings", str(bookings), "--measured-from", "demo:2026-11-24",
                        "--replications", "2", "--processes", "1"])
    assert done.exit_code == 0, done.output
    assert "no-show 40.0%, lateness mean +6.0 min, sd 7.5 min (measured from demo 2026-11-24: 10 bookings, 6 came" \
        in done.output
    nothing = invoke(cli, ["simulate", str(scenario), "--bookings", str(bookings), "--measured-from", "demo:2026-11-22"])
    assert nothing.exit_code == 1 and "nothing to measure" in nothing.output
