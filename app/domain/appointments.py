"""Bookings (预约): a person booked into a slot of a site's day, usually brought by a work unit,
community or village (their `group`), imported from a file, checked in by the booking's code.

Pure rules: reading a booking file's rows (the contract's columns), all or nothing, with each bad
row's line number and reason; a booking's status as time passes; the day's summary per slot
and per group. The store keeps the rows (personal fields sealed), the flow layer runs the rest.
"""
from __future__ import annotations

import re
import secrets
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from .errors import DomainError
from .identity import PHONE_PATTERN, Document, document_key, parse_document
from .text import name_problem, normalised, text_problem

# The booking file's columns, in this order (a CSV header row, or an XLSX sheet's first row).
COLUMNS = ("slot_start", "name", "document_type", "document_number", "phone", "dose_number", "group")
GROUP_MAX = 120
# Booking codes: 8 characters of an alphabet without look-alikes (no 0/O, 1/I/L), 40 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


class Status(StrEnum):
    BOOKED = "booked"
    ARRIVED = "arrived"
    NO_SHOW = "no_show"  # never stored: a booking still `booked` whose slot ended more than the grace ago
    CANCELLED = "cancelled"


CODE_SPACE = len(CODE_ALPHABET) ** CODE_LENGTH


def new_code() -> str:
    """One of the CODE_SPACE codes, each as likely: a single draw from the system's random source
    written in base 31 (a draw per character cost 8 system calls a code, a tenth of an import)."""
    number = secrets.randbelow(CODE_SPACE)
    characters = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        characters.append(CODE_ALPHABET[digit])
    return "".join(characters)


def normal_code(text: str) -> str:
    """A code as typed or scanned: case, spaces and dashes do not matter, and an address that
    ends with the code (a QR holding a link) gives the code."""
    last = text.strip().rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return "".join(ch for ch in last.upper() if ch.isalnum())


@dataclass(frozen=True)
class Booking:
    """One valid row of a booking file."""

    line: int
    slot_start: datetime  # aware, the site's zone
    name: str
    document: Document
    phone: str | None
    dose_number: int
    group: str

    @property
    def day(self) -> date:
        return self.slot_start.date()

    @property
    def key(self) -> str:
        """Who the person is, whatever the spelling of the number (document_key)."""
        return document_key(self.document.type, self.document.number)


@dataclass(frozen=True)
class RowProblem:
    line: int  # the file's line (the header is line 1)
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


class BookingFileInvalid(DomainError):
    """The file is refused whole: its bad rows, by line."""

    status = 400
    code = "invalid_booking_file"

    def __init__(self, problems: list[RowProblem], *, imported: int = 0):
        shown = "; ".join(f"line {problem.line}: {problem.reason}" for problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} row(s) are invalid, nothing was imported: {shown}{more}",
                         fields={f"line {problem.line}": problem.reason for problem in problems[:200]})
        self.problems = problems


def check_header(header: list[str]) -> None:
    cleaned = [normalised(cell).strip().lower() for cell in header]
    if tuple(cleaned[:len(COLUMNS)]) != COLUMNS or any(cell for cell in cleaned[len(COLUMNS):]):
        raise BookingFileInvalid([RowProblem(1, f"the header must be {','.join(COLUMNS)}")])


class Zoned(Protocol):
    """What reading a slot needs of a site: its time zone (a Site; the simulator, which reads
    local clock times only, may give any zone)."""

    @property
    def tz(self) -> tzinfo: ...


def parse_slot(text: str, site: Zoned) -> datetime:
    """`YYYY-MM-DDTHH:MM`, the site's local time."""
    value = text.strip()
    if len(value) != 16 or value[10] != "T":
        raise ValueError("slot_start must be YYYY-MM-DDTHH:MM (the site's local time)")
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValueError("slot_start must be YYYY-MM-DDTHH:MM (the site's local time)") from None
    return moment.replace(tzinfo=site.tz)


def read_row(line: int, row: Mapping[str, str], site: Zoned, *, today: date, past_ok: bool = False) -> Booking:
    """One row, checked; ValueError with the reason. `past_ok`: a slot on a day before `today` is
    no fault (the simulator replays past days' files; an import never passes it)."""
    slot_start = parse_slot(row.get("slot_start") or "", site)
    if slot_start.date() < today and not past_ok:
        raise ValueError(f"the slot's day {slot_start.date().isoformat()} is already past")
    name = normalised(row.get("name") or "").strip()
    if not name:
        raise ValueError("name is missing")
    if problem := name_problem(name):
        raise ValueError(f"name: {problem}")
    document_type = (row.get("document_type") or "").strip().lower()
    try:
        document = parse_document(document_type, (row.get("document_number") or "").strip(), today=today)
    except DomainError as exc:
        reason = next(iter(exc.fields.values()), exc.message) if exc.fields else exc.message
        raise ValueError(f"document: {reason}") from None
    phone = (row.get("phone") or "").strip() or None
    if phone is not None and not re.fullmatch(PHONE_PATTERN, phone):
        raise ValueError("phone: digits, spaces and dashes, an optional + first (5 to 30)")
    dose_text = (row.get("dose_number") or "").strip()
    if dose_text not in ("1", "2", "3", "4"):
        raise ValueError("dose_number must be 1, 2, 3 or 4")
    group = normalised(row.get("group") or "").strip()
    if len(group) > GROUP_MAX or (group and text_problem(group)):
        raise ValueError(f"group: at most {GROUP_MAX} characters of readable text")
    return Booking(line, slot_start, name, document, phone, int(dose_text), group)


def read_rows(rows: Iterable[tuple[int, Mapping[str, str]]], site: Zoned, *, today: date,
              booked: set[tuple[str, date]] | None = None, past_ok: bool = False,
              ) -> tuple[list[Booking], list[RowProblem]]:
    """Every row checked: the good bookings and the bad rows. A person booked twice on one day
    (in the file, or already booked: `booked` holds (document key, day)) is a bad row each time
    after the first. `past_ok`: see read_row."""
    good: list[Booking] = []
    bad: list[RowProblem] = []
    seen: dict[tuple[str, date], int] = {}
    for line, row in rows:
        try:
            booking = read_row(line, row, site, today=today, past_ok=past_ok)
        except ValueError as exc:
            bad.append(RowProblem(line, str(exc)))
            continue
        person = (booking.key, booking.day)
        if person in seen:
            bad.append(RowProblem(line, f"the same person is booked twice on {booking.day} (line {seen[person]})"))
            continue
        if booked and person in booked:
            bad.append(RowProblem(line, f"this person is already booked on {booking.day}"))
            continue
        seen[person] = line
        good.append(booking)
    return good, bad


def status_at(stored: str, slot_start: datetime, *, now: datetime, slot_minutes: int, grace_minutes: int) -> Status:
    """`booked` becomes `no_show` once its slot ended more than the grace period ago."""
    if stored == Status.BOOKED and now > slot_start + timedelta(minutes=slot_minutes + grace_minutes):
        return Status.NO_SHOW
    return Status(stored)


def punctuality(slot_start: datetime, arrived_at: datetime | None, *, slot_minutes: int) -> str | None:
    """How an arrival kept its slot: early (before it), on_time (within it) or late (after it)."""
    if arrived_at is None:
        return None
    if arrived_at < slot_start:
        return "early"
    return "on_time" if arrived_at < slot_start + timedelta(minutes=slot_minutes) else "late"


def summary(rows: Iterable[tuple[datetime, Status, str, datetime | None]], *, slot_minutes: int) -> dict[str, Any]:
    """Per slot (local start): booked and arrived; per group: booked, arrived and no-show; and the
    arrivals against their slots (early, on time, late) with the no-shows (missing). Booked
    counts every booking that was not cancelled."""
    slots: dict[str, Counter[str]] = {}
    groups: dict[str, Counter[str]] = {}
    arrivals: Counter[str] = Counter()
    for slot_start, status, group, arrived_at in rows:
        if status == Status.CANCELLED:
            continue
        for table, key in ((slots, slot_start.strftime("%Y-%m-%dT%H:%M")), (groups, group)):
            counts = table.setdefault(key, Counter())
            counts[TOTAL] += 1
            counts[status] += 1
        if status == Status.ARRIVED:
            arrivals[punctuality(slot_start, arrived_at, slot_minutes=slot_minutes) or "on_time"] += 1
        elif status == Status.NO_SHOW:
            arrivals["missing"] += 1
    return {
        "slots": [{"slot_start": key, "booked": counts[TOTAL], "arrived": counts[Status.ARRIVED]}
                  for key, counts in sorted(slots.items())],
        "groups": [{"group": key, "booked": counts[TOTAL], "arrived": counts[Status.ARRIVED],
                    "no_show": counts[Status.NO_SHOW]} for key, counts in sorted(groups.items())],
        "arrivals": {key: arrivals[key] for key in ("early", "on_time", "late", "missing")},
    }


@dataclass(frozen=True)
class ShowRates:
    """How a day's bookings turned out: the share of no-shows among those whose outcome is known,
    and the lateness (minutes, early negative) of those who came, from slot start to check-in."""

    bookings: int  # not cancelled
    arrived: int
    no_shows: int
    no_show: float | None  # no_shows / (arrived + no_shows); None before any outcome
    late_mean: float | None
    late_sd: float | None


def show_rates(rows: Iterable[tuple[datetime, Status, datetime | None]]) -> ShowRates:
    """From (slot start, status as of now, check-in time of the linked visit) of every booking not
    cancelled. A booking still `booked` (its slot not yet over) counts for neither rate."""
    bookings = arrived = no_shows = 0
    late: list[float] = []
    for slot_start, status, checked_in_at in rows:
        bookings += 1
        if status == Status.ARRIVED:
            arrived += 1
            if checked_in_at is not None:
                late.append((checked_in_at - slot_start).total_seconds() / 60)
        elif status == Status.NO_SHOW:
            no_shows += 1
    known = arrived + no_shows
    return ShowRates(bookings, arrived, no_shows, no_shows / known if known else None,
                     statistics.fmean(late) if late else None, statistics.stdev(late) if len(late) > 1 else None)


TOTAL = "all"  # every booking not cancelled (a status is counted under its own name beside it)
