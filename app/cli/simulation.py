"""`siteflow simulate` and `siteflow plan`: what-if runs of a site scenario (app/sim)."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from app.domain.errors import DomainError

from .common import CLI_PRINCIPAL, _app, _fail, _services


@click.command()
@click.argument("scenario_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=False)
@click.option("--from-site", "from_site", default=None, help="Fit the scenario from a real day of this site instead.")
@click.option("--date", "day", default=None, help="With --from-site: the day (YYYY-MM-DD, default today).")
@click.option("--replications", "-n", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=1, show_default=True, type=int, help="Replication r uses seed + r.")
@click.option("--processes", default=None, type=click.IntRange(1, 256), help="Default: one per CPU.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write every figure as JSON here.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), help="Write the plots here (PNG or SVG).")
def simulate(scenario_file: Path | None, from_site: str | None, day: str | None, replications: int, seed: int,
             processes: int | None, json_path: Path | None, plot_path: Path | None) -> None:
    """Simulate a site scenario (TOML, or fitted from a real day with --from-site) and print its
    figures with 95 % confidence intervals."""
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
def plan(scenario_file: Path, people: int | None, max_median: float, max_utilisation: float, replications: int,
         seed: int) -> None:
    """Recommend the fewest desks per station and the observation seats that meet the limits."""
    from app.sim import planner
    from app.sim.scenario import Poisson, ScenarioError, read_scenario

    try:
        scenario = read_scenario(scenario_file)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    if people is not None:
        rate = people / (scenario.open_minutes / 60)
        scenario = scenario.model_copy(update={
            "arrivals": (Poisson(kind="poisson", rate_per_hour=rate),),
            "name": f"{scenario.name} ({people} people)"})
    limits = planner.Limits(max_median_minutes=max_median, max_utilisation=max_utilisation)
    result = planner.plan(scenario, limits, replications=replications, seed=seed,
                          progress=lambda text: click.echo(text, err=True))
    click.echo(planner.describe(scenario, result, limits))
    if not result.meets:
        sys.exit(1)
