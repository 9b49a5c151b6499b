"""Command-line interface: init, serve, demo, tokens, users, sites, report, keys."""
from __future__ import annotations

import io
import json
import sys
from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask

from app import create_app
from app.domain.errors import DomainError
from app.domain.permissions import ROLES, Principal
from app.domain.site import SiteConfigError
from app.domain.vocabulary import STATIONS
from app.flow import accounts as account_flow
from app.flow import analytics, report_files
from app.flow import sites as site_flow
from app.flow import tokens as token_flow
from app.flow.services import Services, services_of
from app.store import sealing
from app.store.migrate import upgrade

DEMO_ADMIN = "demo-admin"
DEMO_BOTS = "demo-bots"
FIRST_ADMIN = "admin"
CLI_ACTOR = "cli"
# Whoever runs the command line on the server may read every report (as the audit trail records).
CLI_PRINCIPAL = Principal(name="cli", role="admin")
# Demo staff, one per kind of work; their passwords are new on every `siteflow demo`.
DEMO_STAFF = (
    ("demo-supervisor", "Demo site supervisor", "site_supervisor", ("demo",), ()),
    ("demo-city", "Demo city supervisor", "city_supervisor", (), ()),
    ("demo-checkin", "Demo check-in volunteer", "station", ("demo",), ("checkin",)),
    ("demo-nurse", "Demo nurse (consent, injection, observation)", "station", ("demo",),
     ("consent", "injection", "observation", "exit")),
)


def _app(**config) -> Flask:
    return create_app(config or None)


def _services(app: Flask) -> Services:
    return services_of(app)


def _fail(exc: Exception) -> None:
    message = exc.message if isinstance(exc, DomainError) else str(exc)
    if isinstance(exc, DomainError) and exc.fields:
        message += "\n" + "\n".join(f"  {key}: {value}" for key, value in exc.fields.items())
    raise click.ClickException(message)


def _init(app: Flask) -> None:
    services = _services(app)
    upgrade(services.store.engine)
    click.echo(f"database ready: {_safe_url(app.config['DATABASE_URL'])}")
    for site, status in site_flow.load_site_folder(services, Path(app.config["SITEFLOW_SITES"])):
        click.echo(f"site {site.id}: {status}")
    if services.store.staff.count_users() == 0:
        password = app.config["ADMIN_PASSWORD"]
        account, generated = account_flow.create_user(
            services, actor=CLI_ACTOR, username=FIRST_ADMIN, display_name="Administrator", role="admin",
            password=password,
        )
        if generated:
            click.echo(f"\nFirst admin created. Sign in as '{account.username}' with this password "
                       f"(shown only now; you choose your own at first sign-in):\n  {generated}\n")
        else:
            click.echo(f"first admin '{account.username}' created with the password from SITEFLOW_ADMIN_PASSWORD")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group()
def cli() -> None:
    """SiteFlow: the on-site flow manager for mass vaccination sites."""


@cli.command()
def init() -> None:
    """Create or upgrade the database and load every site file from SITEFLOW_SITES."""
    app = _app()
    try:
        _init(app)
    except (SiteConfigError, DomainError) as exc:
        _fail(exc)


def _serve(app: Flask, host: str, port: int, on_ready=None) -> None:
    # What socketio.run() does in gevent mode (WebSockets come from simple-websocket), but
    # bound before the URL is printed, so whoever reads the URL can connect at once.
    from .serving import Server, prepare_to_serve

    prepare_to_serve(app)
    server = Server((host, port), app, log=None)
    server.start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    click.echo(f"SiteFlow is running at http://{shown}:{server.server_port}  (Ctrl+C to stop)")
    if on_ready is not None:
        on_ready(f"http://{shown}:{server.server_port}")
    app.extensions["siteflow_live"].start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve SiteFlow with gevent (one process; the embedded default)."""
    _serve(_app(SOCKETIO_ASYNC_MODE="gevent"), host, port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--speed", default=10.0, show_default=True, type=click.FloatRange(1, 120),
              help="How much faster than real time the demo's clock runs (30 min of observation: 3 min at 10).")
@click.option("--bots/--no-bots", default=True, show_default=True,
              help="Bots play arriving people and staff through the API (desk B and booth 6 are left to you).")
def demo(host: str, port: int, speed: float, bots: bool) -> None:
    """Initialise the database with the demo site, print sign-ins and a demo admin token, serve,
    and run bots that keep the site moving at an accelerated clock."""
    app = _app(SOCKETIO_ASYNC_MODE="gevent", CLOCK_SPEED=speed)
    try:
        _init(app)
    except (SiteConfigError, DomainError) as exc:
        _fail(exc)
    services = _services(app)
    token_flow.revoke(services, name=DEMO_ADMIN)
    token = token_flow.create_token(services, role="admin", site_id=None, station=None, name=DEMO_ADMIN)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    click.echo("\nDemo sign-ins (new passwords on every `siteflow demo`; PIN 2468 for quick switch on a tablet):")
    for username, password in _demo_staff(services):
        click.echo(f"  {username:<16} {password}")
    click.echo(
        f"\nDemo admin token (valid until the next `siteflow demo`):\n  {token}\n\n"
        f"Try it:\n  curl -H 'Authorization: Bearer {token}' {base}/api/v1/sites/demo/snapshot\n"
        f"Sign in: {base}/login   Pair a TV: open {base}/pair on it\n"
        f"\nStation tablets (demo-checkin, demo-nurse or demo-supervisor):\n"
        + "".join(f"  {name:<12} {base}/sites/demo/stations/{name}\n" for name in STATIONS)
        + f"Waiting-area display: {base}/sites/demo/display\n"
        f"Supervisor dashboard (demo-supervisor): {base}/sites/demo/dashboard   City overview (demo-city): {base}/city\n"
        f"Printed slips: the Print buttons after check-in and injection, or {base}/sites/demo/slips\n"
        f"API description: {base}/api/v1/openapi.json   Walk-through: docs/API.md\n"
    )
    click.echo(f"The demo clock runs {speed:g} times faster than real time."
               + (" Bots keep the site moving; consent desk B and injection booth 6 are yours." if bots else ""))
    started = []

    def start_bots(url: str) -> None:
        if bots:
            started.append(_demo_bots(services, url, speed))

    try:
        _serve(app, host, port, on_ready=start_bots)
    finally:
        for running in started:
            running.stop()


def _demo_bots(services: Services, url: str, speed: float):
    from app.sim.bots import DemoBots, HttpActions
    from app.sim.day import DayPlan

    token_flow.revoke(services, name=DEMO_BOTS)
    token = token_flow.create_token(services, role="admin", site_id=None, station=None, name=DEMO_BOTS)
    # About 45 people an hour for the one consent desk the bots use: busy, so the dashboard has a
    # bottleneck to show, and desk B (yours) makes the difference.
    plan = DayPlan(people=360, hours=8, step_minutes=0.5, consent_minutes=1.2,
                   keep_free=(("consent", "B"), ("injection", "6")))
    return DemoBots(HttpActions(url, token, "demo", services.clock), plan, speed=speed).start()


def _demo_staff(services: Services) -> list[tuple[str, str]]:
    shown = []
    for username, display_name, role, sites, stations in DEMO_STAFF:
        password = account_flow.generate_password()
        if account_flow.get_account(services, username=username) is None:
            account_flow.create_user(
                services, actor=CLI_ACTOR, username=username, display_name=display_name, role=role, sites=sites,
                stations=stations, password=password, pin="2468" if role == "station" else None,
            )
        else:
            account_flow.reset_password(services, username, actor=CLI_ACTOR, password=password)
            account_flow.set_active(services, username, active=True, actor=CLI_ACTOR)
        services.store.staff.update_user(
            account_flow.get_account(services, username=username).id, at=services.clock.now(),
            must_change_password=False,
        )
        shown.append((username, password))
    return shown


@cli.group()
def tokens() -> None:
    """Bearer tokens for the API."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--site", default=None, help="The site the token belongs to (station and display tokens).")
@click.option("--station", default=None, type=click.Choice(STATIONS), help="For station tokens.")
@click.option("--name", default=None, help="Who or what uses it (shown in the event log).")
def tokens_create(role: str, site: str | None, station: str | None, name: str | None) -> None:
    """Create a token and print it (it is stored hashed and cannot be shown again)."""
    services = _services(_app())
    try:
        token = token_flow.create_token(
            services, role=role, site_id=site, station=station, name=name or f"{role}-{station or site or 'all'}"
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(token)


@tokens.command("list")
def tokens_list() -> None:
    """List tokens (never their values)."""
    for row in _services(_app()).store.list_tokens():
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.id:>4}  {row.role:<10} {row.site_id or '*':<12} {row.station or '-':<12} {row.name}  ({state})")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    count = token_flow.revoke(_services(_app()), ids=[token_id])
    if not count:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@cli.group()
def users() -> None:
    """Staff accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r for r in ROLES if r != "display"]))
@click.option("--name", "display_name", default=None, help="The name shown on screens (default: the username).")
@click.option("--site", "sites", multiple=True, help="A site the account works at (repeat for several).")
@click.option("--station", "stations", multiple=True, type=click.Choice(STATIONS), help="For station staff (repeatable).")
@click.option("--pin", default=None, help="4-8 digits for quick switch on station tablets.")
def users_add(username: str, role: str, display_name: str | None, sites: tuple[str, ...], stations: tuple[str, ...],
              pin: str | None) -> None:
    """Create an account; prints a first password, to be changed at the first sign-in."""
    try:
        account, password = account_flow.create_user(
            _services(_app()), actor=CLI_ACTOR, username=username, display_name=display_name or username, role=role,
            sites=sites, stations=stations, pin=pin,
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"user {account.username} created ({account.role}). First password (shown only now):\n  {password}")


@users.command("list")
def users_list() -> None:
    """Accounts with their role, sites and stations (never passwords)."""
    for account in account_flow.list_accounts(_services(_app())):
        state = "active" if account.active else "disabled"
        click.echo(f"{account.username:<20} {account.role:<16} {','.join(account.sites) or '*':<16} "
                   f"{','.join(account.stations) or '-':<30} {'PIN' if account.has_pin else '   '}  {state}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account and end its sessions."""
    try:
        account_flow.set_active(_services(_app()), username, active=False, actor=CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"user {username} disabled")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    try:
        account_flow.set_active(_services(_app()), username, active=True, actor=CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"user {username} enabled")


@users.command("reset-password")
@click.argument("username")
def users_reset_password(username: str) -> None:
    """A new password (printed once, to be changed at sign-in); ends the account's sessions."""
    try:
        password = account_flow.reset_password(_services(_app()), username, actor=CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"new password for {username} (shown only now):\n  {password}")


@users.command("set-pin")
@click.argument("username")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_pin(username: str, pin: str) -> None:
    """Set the PIN used to switch to this account on a station tablet."""
    services = _services(_app())
    try:
        account = account_flow.get_account(services, username=username)
        if account is None:
            raise click.ClickException(f"no user {username!r}")
        account_flow.set_pin(services, account, pin=pin, actor=CLI_ACTOR)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"PIN set for {username}")


@cli.group()
def sites() -> None:
    """Site configurations."""


@sites.command("load")
@click.argument("path", type=click.Path(path_type=Path))
def sites_load(path: Path) -> None:
    """Validate a site TOML file and create or update the site."""
    try:
        site, status = site_flow.load_site_file(_services(_app()), path)
    except (SiteConfigError, DomainError) as exc:
        _fail(exc)
    click.echo(f"site {site.id}: {status}")


@sites.command("list")
def sites_list() -> None:
    store = _services(_app()).store
    for site_id in store.site_ids():
        row = store.site(site_id)
        click.echo(f"{site_id:<16} {row.site.name} (revision {row.revision}, {row.seq} events)")


@cli.group()
def report() -> None:
    """Reports from the event log (the same figures as the dashboard and the API)."""


@report.command("daily")
@click.option("--site", "site_id", required=True)
@click.option("--date", "day", required=True, help="YYYY-MM-DD, or a range FROM..TO (one report per day).")
@click.option("--format", "chosen", type=click.Choice(report_files.FORMATS), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The file to write (for a range: CSV and JSON days follow each other; XLSX gets a date column).")
def report_daily(site_id: str, day: str, chosen: str, output: Path) -> None:
    """The daily report of a site, as XLSX, CSV or JSON."""
    try:
        first, _, last = day.partition("..")
        start = date.fromisoformat(first)
        end = date.fromisoformat(last) if last else start
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", param_hint="--date") from None
    if end < start or (end - start).days > 366:
        raise click.BadParameter("the range runs backwards or is longer than a year", param_hint="--date")
    services = _services(_app())
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    reports = []
    try:
        with click.progressbar(days, label="Folding the event log", show_pos=True,
                               file=sys.stderr if len(days) > 1 else io.StringIO()) as bar:
            for one in bar:
                reports.append(analytics.daily_report(services, CLI_PRINCIPAL, site_id=site_id, day=one))
    except DomainError as exc:
        _fail(exc)
    if chosen == "xlsx":
        output.write_bytes(report_files.to_xlsx(reports))
    elif chosen == "csv":
        output.write_text("".join(report_files.to_csv(one) for one in reports), encoding="utf-8")
    else:
        output.write_text(json.dumps(reports if len(reports) > 1 else reports[0], ensure_ascii=False, indent=1),
                          encoding="utf-8")
    doses = sum(one["totals"]["doses"] for one in reports)
    click.echo(f"{output}: {len(reports)} day(s), {doses} doses")


@cli.command()
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


@cli.command()
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


@cli.group()
def keys() -> None:
    """Keys that seal personal data at rest (docs/SECURITY.md)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new master data key and lookup key as environment lines (nothing is stored)."""
    click.echo(f"SITEFLOW_DATA_KEYS={sealing.generate_master_key()}")
    click.echo(f"SITEFLOW_LOOKUP_KEY={sealing.generate_lookup_key()}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Rewrap every data key under the first of SITEFLOW_DATA_KEYS (run after putting a new key first)."""
    services = _services(_app())
    try:
        count = services.store.sealer.rewrap_all(services.store.engine)
    except sealing.SealingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} data keys rewrapped under the primary master key; "
               "the older master keys can now be removed from SITEFLOW_DATA_KEYS")


@keys.command("rehash")
def keys_rehash() -> None:
    """Recompute every ID lookup with the current SITEFLOW_LOOKUP_KEY (after changing it)."""
    services = _services(_app())
    try:
        count = services.store.rehash_documents()
    except sealing.SealingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} visits rehashed with the current lookup key")
