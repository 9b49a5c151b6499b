"""`siteflow report daily`: a site's daily report as XLSX, CSV or JSON."""
from __future__ import annotations

import io
import json
import sys
from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask

from app.domain.errors import DomainError
from app.flow import analytics, report_files
from app.flow.services import Services

from .common import CLI_PRINCIPAL, _app, _fail, _services


@click.group()
def report() -> None:
    """Reports from the event log (the same figures as the dashboard and the API)."""


@report.command("daily")
@click.option("--site", "site_id", required=True)
@click.option("--date", "day", required=True, help="YYYY-MM-DD, or a range FROM..TO (one report per day).")
@click.option("--format", "chosen", type=click.Choice(report_files.FORMATS), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The file to write (for a range: CSV and JSON days follow each other; XLSX gets a date column).")
@click.option("--lang", "language", type=click.Choice(("zh_Hans", "en")), default=None,
              help="The language of the files' stock sheets (default: the site's).")
def report_daily(site_id: str, day: str, chosen: str, output: Path, language: str | None) -> None:
    """The daily report of a site, as XLSX, CSV or JSON."""
    try:
        first, _, last = day.partition("..")
        start = date.fromisoformat(first)
        end = date.fromisoformat(last) if last else start
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", param_hint="--date") from None
    if end < start or (end - start).days > 366:
        raise click.BadParameter("the range runs backwards or is longer than a year", param_hint="--date")
    app = _app()
    services = _services(app)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    reports = []
    try:
        with click.progressbar(days, label="Folding the event log", show_pos=True,
                               file=sys.stderr if len(days) > 1 else io.StringIO()) as bar:
            for one in bar:
                reports.append(analytics.daily_report(services, CLI_PRINCIPAL, site_id=site_id, day=one))
    except DomainError as exc:
        _fail(exc)
    words = _words(app, services, site_id, language)
    if chosen == "xlsx":
        output.write_bytes(report_files.to_xlsx(reports, words))
    elif chosen == "csv":
        output.write_text("".join(report_files.to_csv(one, words) for one in reports), encoding="utf-8")
    else:
        output.write_text(json.dumps(reports if len(reports) > 1 else reports[0], ensure_ascii=False, indent=1),
                          encoding="utf-8")
    doses = sum(one["totals"]["doses"] for one in reports)
    click.echo(f"{output}: {len(reports)} day(s), {doses} doses")


def _words(app: Flask, services: Services, site_id: str, language: str | None) -> report_files.Words:
    """The files' words in `language` (default: the site's), translated as the pages are."""
    from flask_babel import force_locale

    from app.flow.sites import site_config
    from app.web import labels

    site = site_config(services, site_id)
    with app.app_context(), force_locale(language or site.language):
        return labels.report_words(site)
