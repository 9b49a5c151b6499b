"""`siteflow users`: staff accounts, changed as the "cli" actor (audited)."""
from __future__ import annotations

import click

from app.domain.errors import DomainError
from app.domain.permissions import ROLES
from app.domain.vocabulary import STATIONS
from app.flow import accounts as account_flow

from .common import CLI_ACTOR, _app, _fail, _services


@click.group()
def users() -> None:
    """Staff accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r for r in ROLES if r != "display"]))
@click.option("--name", "display_name", default=None, help="The name shown on screens (default: the username).")
@click.option("--site", "sites", multiple=True, help="A site the account works at (repeat for several).")
@click.option("--station", "stations", multiple=True, type=click.Choice([station.value for station in STATIONS]), help="For station staff (repeatable).")
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
