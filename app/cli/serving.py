"""`siteflow init`, `serve` and `demo` (with the demo's staff accounts and bots)."""
from __future__ import annotations

import io
import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask

from app.domain.errors import DomainError
from app.domain.site import SiteConfigError
from app.domain.vocabulary import STATIONS
from app.flow import accounts as account_flow
from app.flow import maintenance, queries
from app.flow import sites as site_flow
from app.flow import tokens as token_flow
from app.flow.services import Services

from .common import CLI_ACTOR, CLI_PRINCIPAL, _app, _fail, _services

if TYPE_CHECKING:
    from app.sim.day import DayPlan

DEMO_ADMIN = "demo-admin"
DEMO_BOTS = "demo-bots"
FIRST_ADMIN = "admin"
# Demo staff, one per kind of work; their passwords are new on every `siteflow demo`.
DEMO_STAFF = (
    ("demo-supervisor", "Demo site supervisor", "site_supervisor", ("demo",), ()),
    ("demo-city", "Demo city supervisor", "city_supervisor", (), ()),
    ("demo-checkin", "Demo check-in volunteer", "station", ("demo",), ("checkin",)),
    ("demo-nurse", "Demo nurse (consent, injection, observation)", "station", ("demo",),
     ("consent", "injection", "observation", "exit")),
)


def _init(app: Flask) -> None:
    services = _services(app)
    maintenance.migrate(services)
    click.echo(f"database ready: {_safe_url(app.config['DATABASE_URL'])}")
    for site, status in site_flow.load_site_folder(services, Path(app.config["SITEFLOW_SITES"])):
        click.echo(f"site {site.id}: {status}")
    if not account_flow.any_accounts(services):
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


@click.command()
def init() -> None:
    """Create or upgrade the database and load every site file from SITEFLOW_SITES."""
    app = _app()
    try:
        _init(app)
    except (SiteConfigError, DomainError) as exc:
        _fail(exc)


def lan_address() -> str:
    """This machine's IPv4 address on its network, found without sending anything: a UDP socket
    "connected" to a private address takes the address of the interface the route leaves by;
    without a route, the address the host name resolves to; else 127.0.0.1."""
    for probe in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 1))  # UDP: nothing is sent
                address = udp.getsockname()[0]
        except OSError:
            continue
        if _outward(address):
            return address
    try:
        addresses = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        addresses = []
    return next((address for address in addresses if _outward(address)), "127.0.0.1")


def _outward(address: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip.is_link_local)


def _shown_host(host: str) -> str:
    """The address to print for a listening address: the LAN address when listening on all of them."""
    return lan_address() if host in ("0.0.0.0", "") else host


def terminal_qr(text: str) -> str:
    """A QR code of `text` to print in a terminal (segno): half-height block characters, or, when
    the terminal's encoding has none, ANSI colours."""
    import segno

    code = segno.make(text, error="m")
    out = io.StringIO()
    try:
        "█▀▄".encode(sys.stdout.encoding or "ascii")
        compact = True
    except (UnicodeEncodeError, LookupError):
        compact = False
    code.terminal(out=out, compact=compact, border=4)  # the quiet zone scanners expect
    return out.getvalue()


def _serve(app: Flask, host: str, port: int, on_ready=None) -> None:
    # What socketio.run() does in gevent mode (WebSockets come from simple-websocket), but
    # bound before the URL is printed, so whoever reads the URL can connect at once.
    from app.serving import Server, prepare_to_serve

    prepare_to_serve(app)
    server = Server((host, port), app, log=None)
    server.start()
    shown = _shown_host(host)
    click.echo(f"SiteFlow is running at http://{shown}:{server.server_port}  (Ctrl+C to stop)")
    if on_ready is not None:  # this process's own clients (the demo's bots) stay on this computer
        on_ready(f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{server.server_port}")
    app.extensions["siteflow_live"].start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve SiteFlow with gevent (one process; the embedded default)."""
    _serve(_app(SOCKETIO_ASYNC_MODE="gevent"), host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0: every network of this machine, as --lan).")
@click.option("--lan", is_flag=True,
              help="Serve the local network too (--host 0.0.0.0), so TVs and tablets can connect: "
                   "prints this machine's LAN address and a QR code to pair them.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--speed", default=10.0, show_default=True, type=click.FloatRange(1, 120),
              help="How much faster than real time the demo's clock runs (30 min of observation: 3 min at 10).")
@click.option("--bots/--no-bots", default=True, show_default=True,
              help="Bots play arriving people and staff through the API (desk B and booth 6 are left to you).")
def demo(host: str, lan: bool, port: int, speed: float, bots: bool) -> None:
    """Initialise the database with the demo site, print sign-ins and a demo admin token, serve,
    and run bots that keep the site moving at an accelerated clock."""
    from app.sim.bots import DEMO_COVER_AFTER_MINUTES, demo_plan
    from app.sim.planner import Limits

    if lan:
        host = "0.0.0.0"
    app = _app(SOCKETIO_ASYNC_MODE="gevent", CLOCK_SPEED=speed)
    try:
        _init(app)
    except (SiteConfigError, DomainError) as exc:
        _fail(exc)
    services = _services(app)
    token_flow.revoke(services, name=DEMO_ADMIN)
    token = token_flow.create_token(services, role="admin", site_id=None, station=None, name=DEMO_ADMIN)
    everywhere = host in ("0.0.0.0", "")
    shown = _shown_host(host)
    base = f"http://{shown}:{port}"
    local_only = not everywhere and _loopback(host)
    pairing = "start the demo with --lan (see below)" if local_only else f"open {base}/pair on it"
    click.echo("\nDemo sign-ins (new passwords on every `siteflow demo`; PIN 2468 for quick switch on a tablet):")
    for username, password in _demo_staff(services):
        click.echo(f"  {username:<16} {password}")
    click.echo(
        f"\nDemo admin token (valid until the next `siteflow demo`):\n  {token}\n\n"
        f"Try it:\n  curl -H 'Authorization: Bearer {token}' {base}/api/v1/sites/demo/snapshot\n"
        f"Sign in: {base}/login   Pair a TV: {pairing}\n"
        f"\nStation tablets (demo-checkin, demo-nurse or demo-supervisor):\n"
        + "".join(f"  {name:<12} {base}/sites/demo/stations/{name}\n" for name in STATIONS)
        + f"Waiting-area display: {base}/sites/demo/display\n"
        f"Supervisor dashboard (demo-supervisor): {base}/sites/demo/dashboard   City overview (demo-city): {base}/city\n"
        f"Printed slips: the Print buttons after check-in and injection, or {base}/sites/demo/slips\n"
        f"API description: {base}/api/v1/openapi.json   Walk-through: docs/API.md\n"
    )
    if everywhere and shown == "127.0.0.1":
        click.echo("Serving every network of this computer, but it has no LAN address (no network?): "
                   "the links above work on this computer only.\n")
    elif everywhere:
        click.echo(f"LAN address: {shown} (TVs and tablets on the local network open the links above)\n"
                   f"Pair a TV or a tablet as a display: scan this code with it (or open {base}/pair on it), then "
                   f"type the code it shows on Displays. A station tablet signs in at {base}/login instead.\n")
        click.echo(terminal_qr(f"{base}/pair"))
    elif local_only:
        click.echo("Only this computer can open these links. For TVs and tablets on the local network: "
                   "siteflow demo --lan (prints this computer's LAN address and a QR code to pair them).\n")
    plan, rate = demo_plan(queries.site_info(services, CLI_PRINCIPAL, site_id="demo"))
    click.echo(f"The demo clock runs {speed:g} times faster than real time."
               + (f" Bots keep the site moving: {rate:.0f} people an hour, what the desks they staff carry at the "
                  f"planner's {Limits().max_utilisation:.0%} utilisation limit (`siteflow plan`). Consent desk B and "
                  f"injection booth 6 are yours; a bot covers either one while nobody has used it for "
                  f"{DEMO_COVER_AFTER_MINUTES:g} minutes of demo time." if bots else ""))
    started = []

    def start_bots(url: str) -> None:
        if bots:
            started.append(_demo_bots(services, url, speed, plan))

    try:
        _serve(app, host, port, on_ready=start_bots)
    finally:
        for running in started:
            running.stop()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _demo_bots(services: Services, url: str, speed: float, plan: DayPlan):
    from app.client import SiteFlowClient
    from app.sim.bots import DemoBots, HttpActions

    token_flow.revoke(services, name=DEMO_BOTS)
    token = token_flow.create_token(services, role="admin", site_id=None, station=None, name=DEMO_BOTS)
    return DemoBots(HttpActions(SiteFlowClient(url, token), "demo", services.clock), plan, speed=speed).start()


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
            account_flow.reset_password(services, username, actor=CLI_ACTOR, password=password, must_change=False)
            account_flow.set_active(services, username, active=True, actor=CLI_ACTOR)
        shown.append((username, password))
    return shown
