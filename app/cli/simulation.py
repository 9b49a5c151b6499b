"""`siteflow simulate` and `siteflow plan`: what-if runs of a site scenario (app/sim)."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from app.domain.errors import DomainError

from .common import CLI_PRINCIPAL, _app, _fail, _services

if TYPE_CHECKING:
    from app.sim.scenario import Scenario

RATE_OPTIONS = ("no_show", "late_sd_minutes", "late_mean_minutes")


def booking_options(command):
    """--bookings FILE and its rates, for `simulate` and `plan`."""
    options = [
        click.option("--bookings", "bookings_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                     help="Arrivals from this booking file (CSV or XLSX, the columns of `siteflow appointments "
                          "import`): each person at their slot's start plus a lateness, or not at all (--no-show). "
                          "The scenario's walk-ins (poisson) stay; its appointment blocks give way to the file."),
        click.option("--bookings-day", default=None, metavar="YYYY-MM-DD",
                     help="With --bookings: the day to replay, when the file has several."),
        click.option("--no-show", type=click.FloatRange(0, 1), default=0.08, show_default=True,
                     help="With --bookings: the probability a booked person does not come."),
        click.option("--late-sd-minutes", type=click.FloatRange(0, 240), default=10.0, show_default=True,
                     help="With --bookings: the sd of the lateness (normal, truncated at 3 sd either side)."),
        click.option("--late-mean-minutes", type=click.FloatRange(-240, 240), default=0.0, show_default=True,
                     help="With --bookings: the mean lateness (early is negative)."),
        click.option("--measured-from", default=None, metavar="SITE:YYYY-MM-DD",
                     help="With --bookings: the no-show share and the lateness measured from that day's "
                          "bookings and check-ins at the site (the database of this instance)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _with_bookings(scenario: Scenario, options: dict[str, Any], *, fitted: bool = False) -> tuple[Scenario, list[str]]:
    """The scenario with the booking file's day as its booked arrivals, and what to say about it.
    `fitted`: a scenario fitted from a real day, whose arrivals (every check-in) give way whole."""
    from app.domain.appointments import BookingFileInvalid
    from app.sim.bookings import BookingDayError, outside_hours, read_booked_day, with_bookings

    context = click.get_current_context()
    given = [name for name in (*RATE_OPTIONS, "bookings_day", "measured_from")
             if context.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)]
    path: Path | None = options["bookings_file"]
    if path is None:
        if given:
            raise click.UsageError(f"--{given[0].replace('_', '-')} goes with --bookings FILE.")
        return scenario, []
    no_show, late_sd, late_mean = options["no_show"], options["late_sd_minutes"], options["late_mean_minutes"]
    site, measured = None, ""
    if options["measured_from"]:
        if explicit := [name for name in given if name in RATE_OPTIONS]:
            raise click.UsageError(f"--{explicit[0].replace('_', '-')} and --measured-from: give one or the other.")
        site, rates, measured = _measured(options["measured_from"])
        no_show = rates.no_show
        late_mean = rates.late_mean if rates.late_mean is not None else late_mean
        late_sd = rates.late_sd if rates.late_sd is not None else late_sd
    try:
        chosen = date.fromisoformat(options["bookings_day"]) if options["bookings_day"] else None
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--bookings-day") from None
    try:
        booked = read_booked_day(path.read_bytes(), today=date.today(), day=chosen, site=site)
    except BookingFileInvalid as exc:
        shown = "\n".join(f"line {problem.line}: {problem.reason}" for problem in exc.problems[:20])
        more = f"\n(and {len(exc.problems) - 20} more)" if len(exc.problems) > 20 else ""
        raise click.ClickException(f"{path.name}: {len(exc.problems)} invalid row(s), the file is not used:\n"
                                   f"{shown}{more}") from None
    except BookingDayError as exc:
        raise click.ClickException(f"{path.name}: {exc}") from None
    late_sd = min(late_sd, 240.0)
    replayed = with_bookings(scenario, booked, no_show=no_show, late_sd=late_sd, late_mean=late_mean,
                             source=f"{path.name} {booked.day.isoformat()}", walk_ins=not fitted)
    first, last = min(booked.slots), max(booked.slots)
    notes = [f"bookings: {path.name}, {booked.day.isoformat()}: {booked.people} booked in {len(booked.slots)} slots "
             f"({first:%H:%M}-{last:%H:%M}); no-show {no_show:.1%}, lateness mean {late_mean:+.1f} min, "
             f"sd {late_sd:.1f} min{measured}"]
    walk_ins = len(replayed.arrivals) - 1
    if fitted:
        notes.append("  no walk-ins: the fitted day's arrivals (all its check-ins, the booked included) give way")
    else:
        notes.append(f"  plus the scenario's walk-ins ({walk_ins} poisson source(s))" if walk_ins
                     else "  no walk-ins: the scenario has no poisson arrivals")
    if outside := outside_hours(scenario, booked):
        notes.append(f"  {outside} booking(s) start outside the opening hours "
                     f"{scenario.opens:%H:%M}-{scenario.closes:%H:%M} (early ones wait for the opening)")
    if booked.other_days:
        notes.append("  left out, the file's other days: "
                     + ", ".join(f"{day.isoformat()} ({count})" for day, count in sorted(booked.other_days.items())))
    return replayed, notes


def _measured(text: str):
    """SITE:YYYY-MM-DD: the site's configuration (its time zone reads the file's slots), the day's
    rates, and how to say where they came from."""
    from app.flow import simulation

    site_id, _, day_text = text.partition(":")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise click.BadParameter("SITE:YYYY-MM-DD", param_hint="--measured-from") from None
    services = _services(_app())
    try:
        rates = simulation.booking_rates(services, CLI_PRINCIPAL, site_id=site_id, day=day)
        site = services.store.site(site_id).site
    except DomainError as exc:
        _fail(exc)
    if rates.no_show is None:
        raise click.ClickException(f"--measured-from {text}: none of that day's {rates.bookings} booking(s) has an "
                                   "outcome yet (came, or a no-show): nothing to measure.")
    unmeasured = "" if rates.late_sd is not None else "; the lateness could not be measured (fewer than 2 came)"
    return site, rates, (f" (measured from {site_id} {day.isoformat()}: {rates.bookings} bookings, {rates.arrived} "
                         f"came, {rates.no_shows} did not{unmeasured})")


@click.command()
@click.argument("scenario_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=False)
@click.option("--from-site", "from_site", default=None, help="Fit the scenario from a real day of this site instead.")
@click.option("--date", "day", default=None, help="With --from-site: the day (YYYY-MM-DD, default today).")
@click.option("--replications", "-n", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=1, show_default=True, type=int, help="Replication r uses seed + r.")
@click.option("--processes", default=None, type=click.IntRange(1, 256), help="Default: one per CPU.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write every figure as JSON here.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), help="Write the plots here (PNG or SVG).")
@booking_options
def simulate(scenario_file: Path | None, from_site: str | None, day: str | None, replications: int, seed: int,
             processes: int | None, json_path: Path | None, plot_path: Path | None, **bookings: Any) -> None:
    """Simulate a site scenario (TOML, or fitted from a real day with --from-site) and print its
    figures with 95 % confidence intervals, and hour by hour. With --bookings, the booked people
    of a booking file arrive at their slots. With multi-dose vials ([vials] doses_per_vial > 1), the
    doses given and wasted and the people turned away by the closing policy too."""
    from app.flow import simulation
    from app.sim import runner
    from app.sim.results import summarise
    from app.sim.scenario import read_scenario
    from app.sim.table import table

    if (scenario_file is None) == (from_site is None):
        raise click.UsageError("Give a SCENARIO_FILE or --from-site SITE (one of the two).")
    try:
        if from_site:
            services = _services(_app())
            chosen = date.fromisoformat(day) if day else None  # None: the site's today
            scenario = simulation.fitted_scenario(services, CLI_PRINCIPAL, site_id=from_site, day=chosen)
        else:
            scenario = read_scenario(scenario_file)
    except ValueError as exc:  # a bad date or scenario (ScenarioError is a ValueError)
        raise click.ClickException(str(exc)) from None
    except DomainError as exc:
        _fail(exc)
    scenario, notes = _with_bookings(scenario, bookings, fitted=from_site is not None)
    for note in notes:
        click.echo(note)
    with click.progressbar(length=replications, label="Replications", file=sys.stderr, show_pos=True) as bar:
        runs = runner.run(scenario, replications=replications, seed=seed, processes=processes, progress=bar.update)
    summary = summarise(scenario, runs)
    click.echo(table(scenario, summary))
    if json_path:
        json_path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
        click.echo(f"figures: {json_path}")
    if plot_path:
        from app.sim.plots import plot

        try:
            plot(scenario, summary, runs, plot_path)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"plots: {plot_path}")


@click.command()
@click.argument("scenario_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--people", type=click.IntRange(1, 200_000), default=None,
              help="Arrivals in the day, spread evenly over the opening hours (default: the scenario's arrivals).")
@click.option("--max-median", default=60.0, show_default=True, type=click.FloatRange(1, 24 * 60),
              help="Minutes: the median time in the site must not be longer.")
@click.option("--max-utilisation", default=0.8, show_default=True, type=click.FloatRange(0.1, 1.0))
@click.option("--replications", "-n", default=10, show_default=True, type=click.IntRange(2, 1000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--vial-policies", "vial_policies", default=None, metavar="N,N,...",
              help="Minutes before closing after which no new vial is opened, one closing policy each (0: no policy); "
                   "each is simulated and its wasted doses and people turned away are shown. Default, for multi-dose "
                   "vials: 0,15,30,45,60.")
@click.option("--max-turned-away", default=0.0, show_default=True, type=click.FloatRange(0, 100_000),
              help="The recommended closing policy wastes the fewest doses among those turning away at most this "
                   "many people a day (mean of the replications).")
@click.option("--json", "json_path", type=click.Path(path_type=Path),
              help="Write the plan and the closing policies' figures as JSON here.")
@booking_options
def plan(scenario_file: Path, people: int | None, max_median: float, max_utilisation: float, replications: int,
         seed: int, vial_policies: str | None, max_turned_away: float, json_path: Path | None,
         **bookings: Any) -> None:
    """Recommend the fewest desks per station and the observation seats that meet the limits.
    With --bookings: first the queues hour by hour with the scenario's own desks, then the plan,
    both with the booking file's arrivals. With multi-dose vials ([vials] doses_per_vial > 1):
    then the doses wasted and the people turned away under each closing policy, with the
    recommended desks and seats."""
    from app.sim import planner, runner
    from app.sim.results import summarise
    from app.sim.scenario import Poisson, ScenarioError, read_scenario
    from app.sim.table import hourly

    try:
        scenario = read_scenario(scenario_file)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    policies = _vial_policies(scenario, vial_policies)
    if people is not None and bookings["bookings_file"] is not None:
        raise click.UsageError("--people and --bookings: give one or the other.")
    scenario, notes = _with_bookings(scenario, bookings)
    for note in notes:
        click.echo(note)
    if notes:
        as_is = summarise(scenario, runner.run(scenario, replications=replications, seed=seed))
        desks = ", ".join(f"{station.name} {station.servers}" + (" (by hour)" if station.servers_by_hour else "")
                          for station in scenario.stations)
        tis = as_is["time_in_system"]
        times = (f"median time in site {tis['p50']:.0f} min, p90 {tis['p90']:.0f} min" if tis["p50"] is not None
                 else "nobody came")
        click.echo(f"\nWith the scenario's desks ({desks}): {times}")
        click.echo("\n".join(hourly(as_is)) + "\n")
    if people is not None:
        rate = people / (scenario.open_minutes / 60)
        scenario = scenario.model_copy(update={
            "arrivals": (Poisson(kind="poisson", rate_per_hour=rate),),
            "name": f"{scenario.name} ({people} people)"})
    limits = planner.Limits(max_median_minutes=max_median, max_utilisation=max_utilisation)
    result = planner.plan(scenario, limits, replications=replications, seed=seed,
                          progress=lambda text: click.echo(text, err=True))
    click.echo(planner.describe(scenario, result, limits))
    rows: list[planner.VialPolicy] = []
    if policies:
        planned = planner._with(scenario, result.servers, result.seats)
        rows = planner.vial_policies(planned, policies, replications=replications, seed=seed)
        desks = ", ".join(f"{name} {count}" for name, count in result.servers.items())
        seats = f", {result.seats} seats" if result.seats is not None else ""
        click.echo("\n" + planner.describe_vial_policies(planned, rows, max_turned_away, replications=replications,
                                                         desks=f"the recommended desks: {desks}{seats}"))
    if json_path:
        chosen = planner.chosen_policy(rows, max_turned_away) if rows else None
        json_path.write_text(json.dumps({
            "scenario": scenario.name, "meets": result.meets, "reasons": result.reasons, "servers": result.servers,
            "seats": result.seats, "replications": replications, "seed": seed,
            "vial_policies": [{"stop_opening_minutes": row.stop_opening_minutes, "served": row.served, **row.figures}
                              for row in rows],
            "max_turned_away": max_turned_away,
            "recommended_stop_opening_minutes": chosen.stop_opening_minutes if chosen else None,
        }, indent=1), encoding="utf-8")
        click.echo(f"figures: {json_path}")
    if not result.meets:
        sys.exit(1)


def _vial_policies(scenario: Scenario, text: str | None) -> tuple[float, ...]:
    """The closing policies to compare: --vial-policies, or the default for multi-dose vials
    (none for single-dose vials, which waste nothing)."""
    from app.sim.planner import DEFAULT_VIAL_POLICIES

    if text is None:
        return () if scenario.vials.single_dose else DEFAULT_VIAL_POLICIES
    if scenario.vials.single_dose:
        raise click.UsageError("--vial-policies: the scenario's vials are single-dose ([vials] doses_per_vial = 1), "
                               "which waste nothing: there is no closing policy to compare.")
    try:
        policies = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter("minutes separated by commas, e.g. 0,15,30,60", param_hint="--vial-policies") from None
    for minutes in policies:
        if not 0 <= minutes < scenario.open_minutes:
            raise click.BadParameter(f"{minutes:g}: each must be from 0 to less than the opening hours "
                                     f"({scenario.open_minutes:g} minutes)", param_hint="--vial-policies")
    return policies
