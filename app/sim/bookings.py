"""A booking file replayed by the simulator: its rows read by the import's own reader
(app/flow/booking_files.rows_of, then app/domain/appointments.read_rows, all or nothing, each bad
row named by its line), with one difference: a slot on a day already past is no fault, since a
past day's file is what one replays. The day's slots become the scenario's booked arrivals
(scenario.Booked); the scenario's walk-ins (its Poisson arrivals) stay, its appointment blocks
give way to the file.

No database is needed: the slots are the site's local clock times as the file writes them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, time, tzinfo

from app.domain import appointments as rules
from app.domain.appointments import BookingFileInvalid, RowProblem, Zoned
from app.flow import booking_files

from .scenario import Booked, Poisson, Scenario


@dataclass(frozen=True)
class _LocalClock:
    """A zone for reading slots when no site is named: any zone reads the same clock times."""

    tz: tzinfo = UTC


class BookingDayError(ValueError):
    """The file holds bookings on several days and none was chosen, or none on the chosen day."""


@dataclass(frozen=True)
class BookedDay:
    day: date
    slots: dict[time, int]  # slot start (local clock time): people booked
    other_days: dict[date, int]  # bookings on the file's other days, left out

    @property
    def people(self) -> int:
        return sum(self.slots.values())


def read_booked_day(content: bytes, *, today: date, day: date | None = None, site: Zoned | None = None) -> BookedDay:
    """The slots of one day of a booking file (CSV or XLSX): `day`, or the file's only day.
    BookingFileInvalid (every bad row, by line) if any row is bad; `today` only for the document
    checks (a birth date after it is impossible)."""
    good, bad = rules.read_rows(booking_files.rows_of(content), site or _LocalClock(), today=today, past_ok=True)
    if bad:
        raise BookingFileInvalid(bad)
    if not good:
        raise BookingFileInvalid([RowProblem(1, "the file has no bookings")])
    days = Counter(booking.day for booking in good)
    if day is None:
        if len(days) > 1:
            listed = ", ".join(f"{one.isoformat()} ({count})" for one, count in sorted(days.items()))
            raise BookingDayError(f"the file has bookings on {len(days)} days: {listed}; choose one")
        day = next(iter(days))
    if day not in days:
        raise BookingDayError(f"the file has no bookings on {day.isoformat()}")
    slots = Counter(booking.slot_start.time().replace(tzinfo=None) for booking in good if booking.day == day)
    return BookedDay(day, dict(sorted(slots.items())), {one: count for one, count in days.items() if one != day})


def with_bookings(scenario: Scenario, booked: BookedDay, *, no_show: float, late_sd: float, late_mean: float = 0.0,
                  source: str = "", walk_ins: bool = True) -> Scenario:
    """The scenario with the day's bookings as its booked arrivals, beside its walk-ins (its
    Poisson arrivals; none with `walk_ins` False, as for a scenario fitted from a real day, whose
    Poisson arrivals are all of that day's check-ins, the booked ones included)."""
    arrivals = Booked(kind="booked", slots=tuple(booked.slots.items()), no_show=no_show, late_sd=late_sd,
                      late_mean=late_mean, source=source)
    others = tuple(source for source in scenario.arrivals if walk_ins and isinstance(source, Poisson))
    name = f"{scenario.name}, with {booked.people} bookings on {booked.day.isoformat()}"
    return scenario.model_copy(update={"arrivals": (arrivals, *others), "name": name})


def outside_hours(scenario: Scenario, booked: BookedDay) -> int:
    """Bookings whose slot starts before the opening or at or after the closing."""
    return sum(count for start, count in booked.slots.items()
               if not 0 <= scenario.clock(start) < scenario.open_minutes)
