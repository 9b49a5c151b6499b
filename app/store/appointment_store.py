"""Bookings in the database (app/store/tables.py: appointments). The person's fields are sealed
with the data key of the site and the booking's day, like a visit's; the document number is
found again through its keyed hash (`document_key`), never stored in the clear."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, Row, func, insert, select, tuple_, update

from app.domain.appointments import Booking, Status
from app.domain.errors import Conflict, NotFound
from app.domain.identity import document_key

from .database import WRITE
from .sealing import Sealer
from .tables import appointments, visits

INSERT_BATCH = 2_000  # rows per INSERT: a 100,000-row file goes in 50 statements


class AppointmentStore:
    def __init__(self, engine: Engine, sealer: Sealer):
        self.engine = engine
        self.sealer = sealer
        self._writer = engine.execution_options(**WRITE)

    def _person(self, row: Row) -> dict[str, Any]:
        return self.sealer.unseal(self.engine, row.person)

    def row_person(self, row: Row) -> dict[str, Any]:
        """{"name", "document_type", "document_number", "phone"} of a booking row."""
        return self._person(row)

    # --- import ---
    def booked_among(self, site_id: str, people: set[tuple[str, date]]) -> set[tuple[str, date]]:
        """Those of (document key, day) already booked at the site (not cancelled)."""
        if not people:
            return set()
        keys = {(self.sealer.lookup(key), day): (key, day) for key, day in people}
        found: set[tuple[str, date]] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(keys), 500):
                query = select(appointments.c.document_key, appointments.c.day).where(
                    appointments.c.site_id == site_id, appointments.c.status != Status.CANCELLED,
                    tuple_(appointments.c.document_key, appointments.c.day).in_(chunk))
                found |= {keys[(row.document_key, row.day)] for row in conn.execute(query)}
        return found

    def add(self, site_id: str, bookings: Sequence[tuple[str, Booking]], *, at: datetime, batch: str,
            progress: Any = None) -> int:
        """Insert (code, booking) pairs in one transaction: all of them, or none."""
        with self._writer.begin() as conn:
            keys: dict[date, Any] = {}
            for chunk in _chunks(list(bookings), INSERT_BATCH):
                rows = []
                for code, booking in chunk:
                    day = booking.day
                    if day not in keys:
                        keys[day] = self.sealer.day_key(conn, site_id, day, at)
                    person = {"name": booking.name, "document_type": booking.document.type,
                              "document_number": booking.document.number, "phone": booking.phone}
                    rows.append({
                        "code": code, "site_id": site_id, "day": day, "slot_start": booking.slot_start,
                        "group_name": booking.group, "dose_number": booking.dose_number,
                        "document_key": self.sealer.lookup(booking.key), "person": self.sealer.seal(keys[day], person),
                        "status": Status.BOOKED, "visit_id": None, "batch": batch, "created_at": at, "updated_at": at,
                    })
                conn.execute(insert(appointments), rows)
                if progress is not None:
                    progress(len(rows))
        return len(bookings)

    def codes_taken(self, site_id: str, codes: list[str]) -> set[str]:
        with self.engine.connect() as conn:
            taken: set[str] = set()
            for chunk in _chunks(codes, 500):
                taken |= {row.code for row in conn.execute(select(appointments.c.code).where(
                    appointments.c.site_id == site_id, appointments.c.code.in_(chunk)))}
        return taken

    # --- reads ---
    def by_code(self, site_id: str, code: str) -> Row:
        with self.engine.connect() as conn:
            row = conn.execute(select(appointments).where(appointments.c.site_id == site_id,
                                                          appointments.c.code == code)).first()
        if row is None:
            raise _unknown(site_id, code)
        return row

    def by_person(self, site_id: str, key: str, day: date) -> Row | None:
        """The person's booking of that day (not cancelled), by their document's key."""
        with self.engine.connect() as conn:
            return conn.execute(select(appointments).where(
                appointments.c.site_id == site_id, appointments.c.day == day,
                appointments.c.document_key == self.sealer.lookup(key),
                appointments.c.status != Status.CANCELLED)).first()

    def page(self, site_id: str, day: date, *, after: int, limit: int, status: Status | None = None,
             ended_before: datetime | None = None) -> list[Row]:
        """A day's bookings in id order. `status`: only those; a no-show is a booking still booked
        whose slot started before `ended_before` (now, less the slot and the grace period)."""
        query = select(appointments).where(appointments.c.site_id == site_id, appointments.c.day == day,
                                           appointments.c.id > after)
        if status in (Status.NO_SHOW, Status.BOOKED):
            assert ended_before is not None
            late = appointments.c.slot_start < ended_before
            query = query.where(appointments.c.status == Status.BOOKED, late if status == Status.NO_SHOW else ~late)
        elif status is not None:
            query = query.where(appointments.c.status == status)
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(appointments.c.id).limit(limit)))

    def day_rows(self, site_id: str, day: date) -> list[Row]:
        """(slot_start, status, group_name, updated_at) of every booking of the day: the summary's
        input (an arrived booking's last change is its arrival)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(appointments.c.slot_start, appointments.c.status,
                                            appointments.c.group_name, appointments.c.updated_at).where(
                appointments.c.site_id == site_id, appointments.c.day == day)))

    def days_rows(self, days: dict[str, date]) -> list[Row]:
        """(site_id, slot_start, status, group_name, updated_at) of the bookings of each site's day."""
        if not days:
            return []
        query = select(appointments.c.site_id, appointments.c.slot_start, appointments.c.status,
                       appointments.c.group_name, appointments.c.updated_at).where(
            tuple_(appointments.c.site_id, appointments.c.day).in_(list(days.items())))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def day_check_ins(self, site_id: str, day: date) -> list[Row]:
        """(slot_start, status, checked_in_at) of every booking of the day not cancelled:
        checked_in_at is the linked visit's check-in (None if nobody came)."""
        query = select(appointments.c.slot_start, appointments.c.status, visits.c.created_at.label("checked_in_at")
                       ).select_from(appointments.outerjoin(visits, visits.c.id == appointments.c.visit_id)).where(
            appointments.c.site_id == site_id, appointments.c.day == day, appointments.c.status != Status.CANCELLED)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def not_arrived(self, site_id: str, day: date) -> list[Row]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(appointments).where(
                appointments.c.site_id == site_id, appointments.c.day == day,
                appointments.c.status == Status.BOOKED).order_by(appointments.c.group_name, appointments.c.slot_start)))

    def count(self, site_id: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(appointments).where(
                appointments.c.site_id == site_id)).scalar_one())

    # --- changes ---
    def set_status(self, site_id: str, code: str, *, status: Status, expected: tuple[Status, ...], at: datetime,
                   visit_id: str | None = None, slot_start: datetime | None = None, day: date | None = None) -> Row:
        """Move a booking from one of `expected` to `status` (Conflict otherwise)."""
        with self._writer.begin() as conn:
            row = conn.execute(select(appointments).where(appointments.c.site_id == site_id,
                                                          appointments.c.code == code)).first()
            if row is None:
                raise _unknown(site_id, code)
            if row.status not in expected:
                raise Conflict(f"Booking {code} is {row.status}.", code=f"appointment_{row.status}",
                               fields={"appointment_code": f"the booking is {row.status}"})
            values: dict[str, Any] = {"status": status, "updated_at": at}
            if visit_id is not None:
                values["visit_id"] = visit_id
            if slot_start is not None:
                values["slot_start"] = slot_start
                values["day"] = day
            conn.execute(update(appointments).where(appointments.c.id == row.id).values(**values))
            return conn.execute(select(appointments).where(appointments.c.id == row.id)).one()


    def rehash_documents(self, batch: int = 500) -> int:
        """Recompute document_key from the sealed person with the current lookup key."""
        count, after = 0, 0
        while True:
            with self._writer.begin() as conn:
                rows = conn.execute(select(appointments.c.id, appointments.c.person).where(
                    appointments.c.id > after).order_by(appointments.c.id).limit(batch)).all()
                for row in rows:
                    person = self.sealer.unseal(conn, row.person)
                    conn.execute(update(appointments).where(appointments.c.id == row.id).values(
                        document_key=self.sealer.lookup(document_key(person["document_type"], person["document_number"]))))
            if not rows:
                return count
            count += len(rows)
            after = rows[-1].id


def _unknown(site_id: str, code: str) -> NotFound:
    return NotFound(f"No booking {code} at site {site_id}.", code="unknown_appointment",
                    fields={"appointment_code": "no such booking at this site"})


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
