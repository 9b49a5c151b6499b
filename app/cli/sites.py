"""`siteflow sites`: load and list site configurations."""
from __future__ import annotations

from pathlib import Path

import click

from app.domain.errors import DomainError
from app.domain.site import SiteConfigError
from app.flow import sites as site_flow

from .common import _app, _fail, _services


@click.group()
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
    for row in site_flow.all_sites(_services(_app())):
        site_id = row.site.id
        click.echo(f"{site_id:<16} {row.site.name} (revision {row.revision}, {row.seq} events)")
