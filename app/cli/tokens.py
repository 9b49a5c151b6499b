"""`siteflow tokens`: bearer tokens for the API."""
from __future__ import annotations

import click

from app.domain.errors import DomainError
from app.domain.permissions import ROLES
from app.domain.vocabulary import STATIONS
from app.flow import tokens as token_flow

from .common import _app, _fail, _services


@click.group()
def tokens() -> None:
    """Bearer tokens for the API."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--site", default=None, help="The site the token belongs to (station and display tokens).")
@click.option("--station", default=None, type=click.Choice([station.value for station in STATIONS]), help="For station tokens.")
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
    for row in token_flow.list_tokens(_services(_app())):
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.id:>4}  {row.role:<10} {row.site_id or '*':<12} {row.station or '-':<12} {row.name}  ({state})")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    count = token_flow.revoke(_services(_app()), ids=[token_id])
    if not count:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")
