"""Booking files as rows: CSV (UTF-8, a header row) or XLSX (the first sheet, a header row), in the
contract's columns (app/domain/appointments.py COLUMNS). Each row comes with its line in the
file (the header is line 1), for the refusal to name."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from openpyxl import load_workbook

from app.domain.appointments import COLUMNS, BookingFileInvalid, RowProblem, check_header

XLSX_MAGIC = b"PK\x03\x04"
Rows = Iterator[tuple[int, dict[str, str]]]


def rows_of(content: bytes) -> Rows:
    """The rows of a CSV or XLSX file (told apart by its first bytes), after its header is checked."""
    return xlsx_rows(content) if content.startswith(XLSX_MAGIC) else csv_rows(content)


def csv_rows(content: bytes) -> Rows:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        raise BookingFileInvalid([RowProblem(line, "the file is not UTF-8 text")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BookingFileInvalid([RowProblem(1, "the file is empty")]) from None
    check_header(header)
    return _csv_records(reader)


def _csv_records(reader: Any) -> Rows:
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        yield reader.line_num, dict(zip(COLUMNS, (cell for cell in record), strict=False))


def xlsx_rows(content: bytes) -> Rows:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable upload is the same refusal
        raise BookingFileInvalid([RowProblem(1, "the file is not a readable XLSX workbook")]) from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise BookingFileInvalid([RowProblem(1, "the workbook's first sheet is empty")])
    check_header([_cell(value) for value in header])
    return _xlsx_records(rows)


def _xlsx_records(rows: Any) -> Rows:
    for line, values in enumerate(rows, start=2):
        cells = [_cell(value) for value in values]
        if not any(cell.strip() for cell in cells):
            continue
        yield line, dict(zip(COLUMNS, cells, strict=False))


def _cell(value: Any) -> str:
    """A cell as the text a CSV would hold: a date-time as YYYY-MM-DDTHH:MM, a whole number without '.0'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
