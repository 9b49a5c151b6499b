"""`siteflow appointments`: import a booking file (all or nothing, or --skip-invalid)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.domain.appointments import BookingFileInvalid
from app.domain.errors import DomainError
from app.flow import appointments as appointment_flow
from app.flow import booking_files

from .common import CLI_PRINCIPAL, _app, _fail, _services


@click.group()
def appointments() -> None:
    """Bookings (预约)."""


@appointments.command("import")
@click.argument("site")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and list the bad ones.")
def appointments_import(site: str, path: Path, skip_invalid: bool) -> None:
    """Import bookings from a CSV (UTF-8, header row) or XLSX file with the columns
    slot_start,name,document_type,document_number,phone,dose_number,group. With any bad row,
    nothing is imported: each bad row is listed with its line (the header is line 1)."""
    content = path.read_bytes()
    services = _services(_app())
    lines = max(1, content.count(b"\n")) if not content.startswith(booking_files.XLSX_MAGIC) else None
    # Every row is read once and, when all are good, written once: the bar counts both.
    with click.progressbar(length=2 * lines if lines else None, label=f"{path.name}", file=sys.stderr,
                           show_pos=True) as bar:
        try:
            result = appointment_flow.import_rows(
                services, CLI_PRINCIPAL, site_id=site, rows=booking_files.rows_of(content), content=content,
                skip_invalid=skip_invalid, progress=bar.update)
        except BookingFileInvalid as exc:
            bar.render_finish()
            for problem in exc.problems:
                click.echo(f"line {problem.line}: {problem.reason}", err=True)
            raise click.ClickException(f"{len(exc.problems)} invalid row(s): nothing was imported "
                                       "(fix them, or use --skip-invalid).") from None
        except DomainError as exc:
            _fail(exc)
    for problem in result.problems:
        click.echo(f"line {problem.line}: {problem.reason} (skipped)", err=True)
    for slot_start, booked, capacity in result.overbooked:
        click.echo(f"warning: slot {slot_start} has {booked} bookings; the site takes in about {capacity} a slot",
                   err=True)
    click.echo(f"imported {result.imported} booking(s) for site {site}"
               + (f"; skipped {len(result.problems)} invalid row(s)" if result.problems else "")
               + f" (sha256 {result.sha256})")
