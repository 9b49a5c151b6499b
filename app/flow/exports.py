"""The standard export of a day's immunizations (docs/EXPORTS.md): FHIR NDJSON, a FHIR Bundle, or
the registry's CSV, with everyone in full. The API and the CLI both call `immunizations`, so they
give the same bytes; every export is audited with its format, day, rows and the SHA-256 of the
bytes handed out."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from app.domain import immunization_export as mapping
from app.domain.errors import ValidationFailed
from app.domain.permissions import Principal, authorize
from app.domain.site import Site
from app.domain.visit import Visit
from app.offload import off_loop

from . import audit, report_files
from .figures import day_bounds
from .services import Services

FORMATS = mapping.FORMATS
MEDIA_TYPES = {"fhir-ndjson": "application/fhir+ndjson", "fhir-bundle": "application/fhir+json", "csv": "text/csv"}
EXTENSIONS = {"fhir-ndjson": "ndjson", "fhir-bundle": "json", "csv": "csv"}


@dataclass(frozen=True)
class Export:
    body: bytes
    media_type: str
    filename: str
    rows: int  # doses (one Immunization, or one CSV row, each)
    sha256: str


def immunizations(services: Services, principal: Principal, *, site_id: str, day: date, format: str,
                  remote_addr: str | None = None) -> Export:
    """The doses given at a site on a day (by the site's clock, midnight to midnight), in `format`."""
    authorize(principal, "exports.immunizations", site=site_id)
    if format not in FORMATS:
        raise ValidationFailed("Unknown export format.", fields={"format": f"must be one of {', '.join(FORMATS)}"})
    site = services.store.site(site_id).site
    start, end = day_bounds(site, day)
    visits = mapping.vaccinated(services.store.injected_between(site_id, start=start, end=end))
    # Building and validating the resources takes about a millisecond a dose: off the server's loop.
    body = off_loop(render, visits, site, format)
    digest = hashlib.sha256(body).hexdigest()
    audit.record(services, principal.actor, "immunizations.exported", site=site_id,
                 subject=f"immunizations:{day.isoformat()}", remote_addr=remote_addr,
                 detail={"format": format, "date": day.isoformat(), "rows": len(visits), "sha256": digest})
    return Export(body=body, media_type=MEDIA_TYPES[format],
                  filename=f"siteflow-{site_id}-immunizations-{day.isoformat()}.{EXTENSIONS[format]}",
                  rows=len(visits), sha256=digest)


def render(visits: list[Visit], site: Site, format: str) -> bytes:
    """The file's bytes (UTF-8): NDJSON lines each ending in a newline, one JSON Bundle, or a CSV
    with a header row through the exports' one cell rule (report_files)."""
    if format == "fhir-ndjson":
        return "".join(resource.model_dump_json() + "\n" for resource in mapping.ndjson_resources(visits, site)).encode()
    if format == "fhir-bundle":
        return mapping.bundle(visits, site).model_dump_json().encode()
    return report_files.table_csv(list(mapping.CSV_COLUMNS), mapping.csv_rows(visits, site)).encode()
