"""A daily report (app/domain/reports.py) as CSV or XLSX: the same figures as the JSON, in
sections a spreadsheet user reads without a manual. Every export goes through `_safe`:
spreadsheet formulas are neutralised (a value starting with = + - @ is prefixed with ',
names come from people), and characters that break a file (controls, surrogates,
noncharacters such as U+FFFF, which an XLSX may not hold) become U+FFFD. New text is refused
at the door (app/domain/text.py); this also covers what was stored before that rule."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from app.domain.reports import STOCK_COLUMNS

FORMATS = ("json", "csv", "xlsx")


def N_(text: str) -> str:
    """Marks a word for the catalogues (python -m app.translations.catalogues): the web layer and
    the command line translate it (app/web/labels.py: report_words); files are built without a
    request, off the server's loop."""
    return text


# The words of the stock sections (columns, the total, yes/no, the closing), in English.
STOCK_WORDS: dict[str, str] = {
    "product": N_("Product"), "lot": N_("Lot"), "expires_on": N_("Expiry"), "doses_per_vial": N_("Doses per vial"),
    "opening": N_("Opening stock"), "received": N_("Received"), "moved_out": N_("Moved out"), "given": N_("Given"),
    "wasted": N_("Wasted"), "left": N_("Left"), "counted_closing": N_("Counted at closing"),
    "difference": N_("Difference"), "balanced": N_("Balanced"), "explained": N_("Explained"),
    "explanation": N_("Explanation"), "reason": N_("Reason code"), "reason_name": N_("Reason"), "doses": N_("Doses"),
    "total": N_("Total"), "yes": N_("yes"), "no": N_("no"), "closing": N_("Stock closed"),
    "closed": N_("closed %(at)s by %(by)s"), "not_closed": N_("not closed"),
    "unexplained": N_("Differences not explained"),
}


@dataclass(frozen=True)
class Words:
    """What the stock sections say, in the report's language: the words above, the products'
    names and the waste reasons' (codes stand for themselves when a name is missing)."""

    text: Mapping[str, str] = field(default_factory=lambda: dict(STOCK_WORDS))
    products: Mapping[str, str] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)


def _stock_sections(report: dict[str, Any], words: Words) -> Iterator[tuple[str, list[str], list[list[Any]]]]:
    """The "Stock" sheet (a line per lot, the total, the closing) and the "Wastage" sheet (by lot and
    reason), with the headers in the report's language."""
    text = words.text
    section = report.get("stock") or {"lots": [], "total": {}, "wastage": [], "closed": None, "unexplained": []}
    yes_no = {True: text["yes"], False: text["no"]}

    def cell(line: dict[str, Any], key: str) -> Any:
        value = line.get(key)
        if key == "product":
            return words.products.get(str(value), value)
        return yes_no[value] if isinstance(value, bool) else value

    rows = [[cell(line, key) for key in STOCK_COLUMNS] for line in section["lots"]]
    total = section["total"]
    rows.append([text["total"], *["" for _ in range(3)],
                 *[cell(total, key) if key in total else "" for key in STOCK_COLUMNS[4:]]])
    closed = section["closed"]
    status = (text["closed"].replace("%(at)s", closed["at"][:16].replace("T", " ")).replace("%(by)s", closed["by"])
              if closed else text["not_closed"])
    rows.append([text["closing"], status])
    if section["unexplained"]:
        rows.append([text["unexplained"], ", ".join(section["unexplained"])])
    yield "Stock", [text[key] for key in STOCK_COLUMNS], rows
    wastage = [[words.products.get(row["product"], row["product"]), row["lot"], row["reason"],
                words.reasons.get(row["reason"], row["reason"]), row["doses"]] for row in section["wastage"]]
    wastage.append([text["total"], "", "", "", sum(row["doses"] for row in section["wastage"])])
    yield "Wastage", [text[key] for key in ("product", "lot", "reason", "reason_name", "doses")], wastage


_BREAKS_FILES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        value = _BREAKS_FILES.sub("\ufffd", value)
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_safe(item)) for item in value)
    return value


def sections(report: dict[str, Any], words: Words | None = None) -> Iterator[tuple[str, list[str], list[list[Any]]]]:
    """(title, header, rows) for each part of the report."""
    totals = report["totals"]
    outcomes = report["outcomes"]
    yield "Summary", ["figure", "value"], [
        ["site", report["site"]["id"]], ["date", report["date"]], ["generated_at", report["generated_at"]],
        ["timezone", report["timezone"]],
        *[[key, value] for key, value in totals.items()],
    ]
    outcome_rows = [[f"vaccinated (dose {dose})", count] for dose, count in outcomes["vaccinated_by_dose"].items()]
    outcome_rows += [[f"deferred ({reason})", count] for reason, count in outcomes["deferred_by_reason"].items()]
    outcome_rows += [[key, outcomes[key]] for key in
                     ("refused", "turned_away", "no_show", "left", "left_vaccinated", "transferred", "open")]
    yield "Outcomes", ["outcome", "people"], outcome_rows
    yield "By hour", ["hour", "checked_in", "doses", "released"], [
        [row["hour"], row["checked_in"], row["doses"], row["released"]] for row in report["by_hour"]]
    station_keys = ["called", "mean_wait_minutes", "p90_wait_minutes", "served", "mean_service_minutes",
                    "utilisation", "desks_used"]
    yield "By station", ["station", *station_keys], [
        [name, *[entry[key] for key in station_keys]] for name, entry in report["by_station"].items()]
    yield "By dose", ["dose_number", "doses"], [[dose, count] for dose, count in report["by_dose"].items()]
    yield "By age band", ["age_band", "doses"], [[band, count] for band, count in report["by_age_band"].items()]
    yield "By product and lot", ["product", "lot", "doses"], [
        [row["product"], row["lot"], row["doses"]] for row in report["by_product_lot"]]
    yield "Vaccinators", ["vaccinator", "served", "mean_service_minutes"], [
        [name, entry["served"], entry["mean_service_minutes"]] for name, entry in report["vaccinators"].items()]
    yield "AEFI", ["ticket", "name", "severity", "symptoms", "reported_at", "report_due_at", "outcome", "overdue"], [
        [row["ticket"], row["name"], row["severity"], row["symptoms"], row["reported_at"], row["report_due_at"],
         row["outcome"], row["overdue"]] for row in report["aefi"]]
    loop = report["closed_loop"]
    yield "Closed loop", ["ticket", "state", "station", "checked_in_at", "name"], [
        ["checked in", loop["checked_in"], "", "", ""], ["accounted for", loop["accounted_for"], "", "", ""],
        *[[row["ticket"], row["state"], row["station"], row["checked_in_at"], row.get("name", "")]
          for row in loop["not_closed"]],
    ]


    bookings = report.get("bookings", {"groups": [], "not_arrived": []})
    yield "Bookings by group", ["group", "booked", "arrived", "no_show"], [
        [row["group"], row["booked"], row["arrived"], row["no_show"]] for row in bookings["groups"]]
    yield "Booked, did not come", ["group", "slot_start", "code", "name", "phone", "document"], [
        [row["group"], row["slot_start"], row["code"], row["person"]["name"], row["person"].get("phone") or "",
         row["person"].get("document_number") or ("…" + row["person"].get("document_last4", ""))]
        for row in bookings["not_arrived"]]
    yield from _stock_sections(report, words or Words())


def to_csv(report: dict[str, Any], words: Words | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for title, header, rows in sections(report, words):
        writer.writerow([title])
        writer.writerow(header)
        for row in rows:
            writer.writerow([_safe(value) for value in row])
        writer.writerow([])
    return out.getvalue()


def to_xlsx(reports: list[dict[str, Any]], words: Words | None = None) -> bytes:
    """One sheet per section; several days (a range) follow each other with a date column."""
    book = Workbook()
    for blank in book.worksheets:
        book.remove(blank)
    for title, header, _ in sections(reports[0], words):
        sheet = book.create_sheet(title[:31])
        sheet.append(["date", *header] if len(reports) > 1 else header)
    for report in reports:
        for title, _, rows in sections(report, words):
            sheet = book[title[:31]]
            for row in rows:
                values = [_safe(value) for value in row]
                sheet.append([report["date"], *values] if len(reports) > 1 else values)
    for sheet in book.worksheets:
        sheet.freeze_panes = "A2"
        for index, column in enumerate(sheet.columns, start=1):
            width = max(len(str(cell.value)) if cell.value is not None else 0 for cell in column)
            sheet.column_dimensions[get_column_letter(index)].width = min(60, max(10, width + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_safe(value) for value in row] for row in rows])
    return out.getvalue()


def table_xlsx(title: str, header: list[str], rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = title[:31]
    sheet.append(header)
    for row in rows:
        sheet.append([_safe(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
