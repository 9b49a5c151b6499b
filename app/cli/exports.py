"""`siteflow export immunizations`: a day's doses for the registry, the same bytes as the API's
`GET /api/v1/sites/<site>/exports/immunizations` (docs/EXPORTS.md)."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from app.domain.errors import DomainError
from app.flow import exports as export_flow

from .common import CLI_PRINCIPAL, _app, _fail, _services


@click.group("export")
def export() -> None:
    """Standard exports (FHIR, the registry's CSV)."""


@export.command("immunizations")
@click.argument("site")
@click.option("--date", "day", required=True, help="The day, YYYY-MM-DD (the site's midnight to midnight).")
@click.option("--format", "chosen", type=click.Choice(export_flow.FORMATS), required=True,
              help="fhir-ndjson (one Immunization a line), fhir-bundle (with the Patients) or csv (the registry's).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write; without it, standard output.")
def export_immunizations(site: str, day: str, chosen: str, output: Path | None) -> None:
    """The doses given at SITE on a day, everyone in full (audited as an export by the command line)."""
    try:
        when = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        when = None
    if when is None:
        raise click.BadParameter("must be YYYY-MM-DD, a real date", param_hint="--date")
    services = _services(_app())
    try:
        result = export_flow.immunizations(services, CLI_PRINCIPAL, site_id=site, day=when, format=chosen)
    except DomainError as exc:
        _fail(exc)
        return
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(result.body)  # the bytes as they are, whatever the terminal's encoding
        sys.stdout.buffer.flush()
        return
    output.write_bytes(result.body)
    click.echo(f"{output}: {result.rows} dose(s), sha256 {result.sha256}", err=True)
