"""Bookings: import a file (all or nothing), list a day, cancel and rebook, find a booking at the
check-in desk, link a check-in to its booking, and the day's summary and no-show list.

Every import is audited with its row count and the file's SHA-256; listing shows personal fields
as the caller's role may see them (masked for a station, as on tablets).
"""
from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.domain import appointments as rules
from app.domain.appointments import BookingFileInvalid, RowProblem, Status
from app.domain.errors import Conflict, NotFound, ValidationFailed
from app.domain.identity import document_key, mask_name, mask_tail, parse_document
from app.domain.permissions import Principal, authorize, view_level
from app.domain.rules import site_day
from app.domain.site import Site
from app.domain.visit import Visit
from app.sim.capacity import people_per_hour, site_scenario

from . import audit
from .services import Services

MAX_PAGE = 500
# A slot's capacity is the planner's (app/sim/capacity.py): every desk of the site with the
# default service times and its observation seats, at the utilisation limit.
_capacities: dict[tuple[str, int], int] = {}


def slot_capacity(services: Services, site_id: str) -> int:
    """How many people a slot of the site takes in: the planner's capacity an hour for all its
    desks and seats, times the slot's length."""
    row = services.store.site(site_id)
    key = (site_id, row.revision)
    if key not in _capacities:
        site = row.site
        scenario = site_scenario(site.name, consent=len(site.stations["consent"].desks),
                                 injection=len(site.stations["injection"].desks),
                                 observation=site.observation.model_dump())
        _capacities[key] = math.floor(people_per_hour(scenario) * site.appointments.slot_minutes / 60)
    return _capacities[key]


@dataclass(frozen=True)
class ImportResult:
    imported: int
    problems: list[RowProblem]
    sha256: str
    # Slots booked beyond the site's capacity after this import: (local slot start, booked, capacity).
    overbooked: list[tuple[str, int, int]]


def import_rows(
    services: Services, principal: Principal, *, site_id: str, rows: Iterable[tuple[int, Mapping[str, str]]],
    content: bytes, skip_invalid: bool = False, progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check every row; with any bad one, import nothing (BookingFileInvalid lists them all) unless
    `skip_invalid`, which imports the good rows and returns the bad ones. `progress(n)` hears of
    rows read and rows written."""
    authorize(principal, "appointments.import", site=site_id)
    site = services.store.site(site_id).site
    now = services.clock.now()
    today = site_day(site, now)
    counted = _counting(rows, progress)
    good, bad = rules.read_rows(counted, site, today=today)
    already = services.store.appointments.booked_among(site_id, {(booking.key, booking.day) for booking in good})
    if already:
        bad += [RowProblem(booking.line, f"this person is already booked on {booking.day}")
                for booking in good if (booking.key, booking.day) in already]
        good = [booking for booking in good if (booking.key, booking.day) not in already]
        bad.sort(key=lambda problem: problem.line)
    digest = hashlib.sha256(content).hexdigest()
    if bad and not skip_invalid:
        audit.record(services, principal.actor, "appointments.import_refused", outcome=audit.Outcome.REFUSED,
                     site=site_id, subject=f"appointments:{site_id}",
                     detail={"rows": len(good) + len(bad), "invalid": len(bad), "sha256": digest})
        raise BookingFileInvalid(bad)
    pairs = list(zip(_fresh_codes(services, site_id, len(good)), good, strict=True))
    services.store.appointments.add(site_id, pairs, at=now, batch=uuid.uuid4().hex, progress=progress)
    audit.record(services, principal.actor, "appointments.imported", site=site_id, subject=f"appointments:{site_id}",
                 detail={"rows": len(good), "invalid": len(bad), "sha256": digest})
    return ImportResult(len(good), bad, digest, overbooked(services, site_id, {booking.day for booking in good}))


def overbooked(services: Services, site_id: str, days: set[date]) -> list[tuple[str, int, int]]:
    """The slots of these days with more bookings than the site's slot capacity."""
    capacity = slot_capacity(services, site_id)
    found = []
    for day in sorted(days):
        for slot in _summary(services, site_id, day)["slots"]:
            if slot["booked"] > capacity:
                found.append((slot["slot_start"], slot["booked"], capacity))
    return found


def _counting(rows: Iterable[tuple[int, Mapping[str, str]]],
              progress: Callable[[int], None] | None) -> Iterable[tuple[int, Mapping[str, str]]]:
    for row in rows:
        yield row
        if progress is not None:
            progress(1)


def _fresh_codes(services: Services, site_id: str, count: int) -> list[str]:
    """`count` booking codes no booking of the site has (40 bits each: a clash is rare, and checked)."""
    codes: set[str] = set()
    while len(codes) < count:
        wanted = {rules.new_code() for _ in range(count - len(codes))} - codes
        codes |= wanted - services.store.appointments.codes_taken(site_id, sorted(wanted))
    return sorted(codes)


def _status(services: Services, site_id: str, row: Any, site: Site | None = None) -> Status:
    site = site or services.store.site(site_id).site
    return rules.status_at(row.status, row.slot_start, now=services.clock.now(),
                           slot_minutes=site.appointments.slot_minutes,
                           grace_minutes=site.appointments.no_show_grace_minutes)


def view(services: Services, site_id: str, row: Any, level: str, site: Site | None = None) -> dict[str, Any]:
    """A booking as a caller may see it: `full` (supervisors) or `masked` (stations, as on tablets).
    `site`: the site's configuration when the caller has it (a page of rows reads it once)."""
    site = site or services.store.site(site_id).site
    person = services.store.appointments.row_person(row)
    if level == "full":
        shown = dict(person)
    else:
        shown = {"name": mask_name(person["name"]), "document_type": person["document_type"],
                 "document_last4": person["document_number"][-4:], "phone": mask_tail(person["phone"])}
    return {
        "code": row.code,
        "slot_start": row.slot_start.astimezone(site.tz).strftime("%Y-%m-%dT%H:%M"),
        "slot_minutes": site.appointments.slot_minutes,
        "status": _status(services, site_id, row, site),
        "group": row.group_name,
        "dose_number": row.dose_number,
        "visit_id": row.visit_id,
        "person": shown,
    }


def list_day(services: Services, principal: Principal, *, site_id: str, day: date | None, after: int,
             limit: int, status: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a day's bookings (in import order; `status`: only those, `no_show` the people to
    follow up) and the cursor of the next page."""
    authorize(principal, "appointments.read", site=site_id)
    site = services.store.site(site_id).site
    now = services.clock.now()
    day = day or site_day(site, now)
    ended_before = now - timedelta(minutes=site.appointments.slot_minutes + site.appointments.no_show_grace_minutes)
    rows = services.store.appointments.page(site_id, day, after=after, limit=min(limit, MAX_PAGE) + 1,
                                            status=Status(status) if status else None, ended_before=ended_before)
    page, more = rows[:limit], len(rows) > limit
    level = view_level(principal)
    if level == "full" and page:
        audit.record(services, principal.actor, "record.listed", site=site_id, subject=f"appointments:{day}",
                     detail={"count": len(page)})
    return [view(services, site_id, row, level, site) for row in page], (page[-1].id if more else None)


def find(services: Services, principal: Principal, *, site_id: str, code: str | None = None,
         document_type: str | None = None, document_number: str | None = None) -> dict[str, Any]:
    """The check-in desk's look-up: a booking by its code (typed or scanned) or by the person's
    document (today's booking). The person's fields come back in full for the desk to confirm."""
    authorize(principal, "appointments.find", site=site_id)
    store = services.store.appointments
    site = services.store.site(site_id).site
    today = site_day(site, services.clock.now())
    if code:
        try:
            row = store.by_code(site_id, rules.normal_code(code))
        except NotFound:
            raise NotFound("No such booking at this site.", code="unknown_appointment",
                           fields={"code": "no such booking at this site"}) from None
    elif document_type and document_number:
        document = parse_document(document_type, document_number, today=today)
        found = store.by_person(site_id, document_key(document.type, document.number), today)
        if found is None:
            raise NotFound("No booking today for this person.", code="unknown_appointment",
                           fields={"document_number": "no booking today"})
        row = found
    else:
        raise ValidationFailed("Give a booking code or a document.", fields={"code": "required"})
    answer = view(services, site_id, row, "full")
    audit.record(services, principal.actor, "record.viewed", site=site_id, subject=f"appointment:{row.code}",
                 detail={"by": "code" if code else "document"})
    return answer


def cancel(services: Services, principal: Principal, *, site_id: str, code: str) -> dict[str, Any]:
    authorize(principal, "appointments.manage", site=site_id)
    row = services.store.appointments.set_status(site_id, rules.normal_code(code), status=Status.CANCELLED,
                                                 expected=(Status.BOOKED,), at=services.clock.now())
    audit.record(services, principal.actor, "appointment.cancelled", site=site_id, subject=f"appointment:{row.code}")
    return view(services, site_id, row, view_level(principal))


def rebook(services: Services, principal: Principal, *, site_id: str, code: str, slot_start: str) -> dict[str, Any]:
    """A new slot for a booking (a cancelled one is booked again)."""
    authorize(principal, "appointments.manage", site=site_id)
    site = services.store.site(site_id).site
    try:
        start = rules.parse_slot(slot_start, site)
    except ValueError as exc:
        raise ValidationFailed("Bad slot.", fields={"slot_start": str(exc)}) from None
    if start.date() < site_day(site, services.clock.now()):
        raise ValidationFailed("Bad slot.", fields={"slot_start": "that day is already past"})
    row = services.store.appointments.set_status(site_id, rules.normal_code(code), status=Status.BOOKED,
                                                 expected=(Status.BOOKED, Status.CANCELLED),
                                                 at=services.clock.now(), slot_start=start, day=start.date())
    audit.record(services, principal.actor, "appointment.rebooked", site=site_id, subject=f"appointment:{row.code}",
                 detail={"to": slot_start})
    return view(services, site_id, row, view_level(principal))


def booked_person(services: Services, principal: Principal, *, site_id: str, code: str) -> dict[str, Any]:
    """What a check-in by booking code fills in: the booking's person and dose, its code as stored
    and its status now (NotFound if there is none). Whether it may still check in is the caller's
    to ask (require_open): a repeat of a check-in that marked it arrived is answered as before."""
    row = services.store.appointments.by_code(site_id, rules.normal_code(code))
    person = services.store.appointments.row_person(row)
    site = services.store.site(site_id).site
    return {**person, "dose_number": row.dose_number, "code": row.code, "status": _status(services, site_id, row),
            "day": row.day, "today": site_day(site, services.clock.now())}


def require_open(booked: Mapping[str, Any]) -> None:
    """Conflict unless the booking is for today and still to come (`booked`, or `no_show`: late
    arrivals are real). Someone who comes on another day is checked in as a walk-in."""
    status = booked["status"]
    if status not in (Status.BOOKED, Status.NO_SHOW):
        raise Conflict(f"Booking {booked['code']} is {status}.", code=f"appointment_{status}",
                       fields={"appointment_code": f"the booking is {status}"})
    if booked["day"] != booked["today"]:
        day = booked["day"].isoformat()
        raise Conflict(f"Booking {booked['code']} is for {day}, not today: check the person in as a walk-in.",
                       code="appointment_other_day", fields={"appointment_code": f"the booking is for {day}",
                                                             "day": day})


def arrived(services: Services, visit: Visit, *, code: str | None) -> str | None:
    """Link a check-in to its booking: the one named by `code`, or the person's booking today
    (a check-in by document number). Returns the booking's code, or None (a walk-in)."""
    store = services.store.appointments
    if code is None:
        row = store.by_person(visit.site, document_key(visit.person.document_type, visit.person.document_number),
                              visit.day)
        if row is None or row.status != Status.BOOKED:
            return None
        code = row.code
    store.set_status(visit.site, code, status=Status.ARRIVED, expected=(Status.BOOKED,), at=services.clock.now(),
                     visit_id=visit.id)
    return code


def summary(services: Services, principal: Principal, *, site_id: str, day: date | None) -> dict[str, Any]:
    authorize(principal, "appointments.read", site=site_id)
    site = services.store.site(site_id).site
    day = day or site_day(site, services.clock.now())
    counts = _summary(services, site_id, day)
    capacity = slot_capacity(services, site_id)
    return {"site": site_id, "date": day.isoformat(), "slot_minutes": site.appointments.slot_minutes,
            "no_show_grace_minutes": site.appointments.no_show_grace_minutes, "slot_capacity": capacity, **counts}


def for_report(services: Services, site_id: str, day: date, level: str) -> dict[str, Any]:
    """The daily report's bookings: per group, and who was booked and did not come (for the
    people who follow up), their person as the reader's role may see it."""
    not_come = [view(services, site_id, row, level) for row in services.store.appointments.not_arrived(site_id, day)]
    return {"groups": _summary(services, site_id, day)["groups"],
            "not_arrived": [item for item in not_come if item["status"] == Status.NO_SHOW]}


def summary_rows(services: Services, site_id: str, day: date) -> list[tuple[datetime, Status, str, datetime | None]]:
    """(local slot start, status now, group, arrival time if arrived) of a day's bookings."""
    site = services.store.site(site_id).site
    now = services.clock.now()
    rows = []
    for row in services.store.appointments.day_rows(site_id, day):
        status = rules.status_at(row.status, row.slot_start, now=now, slot_minutes=site.appointments.slot_minutes,
                                 grace_minutes=site.appointments.no_show_grace_minutes)
        rows.append((row.slot_start.astimezone(site.tz), status, row.group_name,
                     row.updated_at if status == Status.ARRIVED else None))
    return rows


def _summary(services: Services, site_id: str, day: date) -> dict[str, Any]:
    """The day's summary, each slot with the site's capacity beside its bookings."""
    slot_minutes = services.store.site(site_id).site.appointments.slot_minutes
    counts = rules.summary(summary_rows(services, site_id, day), slot_minutes=slot_minutes)
    capacity = slot_capacity(services, site_id)
    for slot in counts["slots"]:
        slot["capacity"] = capacity
    return counts


def for_dashboard(services: Services, site_id: str, day: date) -> dict[str, Any]:
    """Today's bookings for the supervisor: per slot, booked against capacity and arrived; the
    arrivals against their slots (early, on time, late, missing)."""
    counts = _summary(services, site_id, day)
    return {"slot_capacity": slot_capacity(services, site_id), "slots": counts["slots"],
            "arrivals": counts["arrivals"]}


COME_EARLY_MINUTES = 5  # the confirmation asks people to come this long before their slot


def confirmation(services: Services, principal: Principal, *, site_id: str, code: str) -> dict[str, Any]:
    """What the booking's confirmation (printed or sent to the person) shows: the site, the slot,
    when to come, the group and dose, the name masked, and the code (for its QR). Never the
    document number or the phone."""
    authorize(principal, "appointments.find", site=site_id)
    site = services.store.site(site_id).site
    row = services.store.appointments.by_code(site_id, rules.normal_code(code))
    person = services.store.appointments.row_person(row)
    start = row.slot_start.astimezone(site.tz)
    return {
        "code": row.code,
        "site": {"id": site.id, "name": site.name, "name_zh": site.name_zh},
        "slot_start": start,
        "slot_end": start + timedelta(minutes=site.appointments.slot_minutes),
        "come_at": start - timedelta(minutes=COME_EARLY_MINUTES),
        "status": _status(services, site_id, row),
        "group": row.group_name,
        "dose_number": row.dose_number,
        "name": mask_name(person["name"]),
    }


def city(services: Services, sites: list[Any], days: dict[str, date]) -> tuple[dict[str, dict[str, int]],
                                                                                list[dict[str, Any]]]:
    """The city's bookings on each site's day (`days`: site id -> day): per site, booked, arrived
    and no-show; and every group of every site, most no-shows first (for the people who follow
    up). One query for all the sites."""
    rules_of = {row.site.id: row.site.appointments for row in sites}
    now = services.clock.now()
    per_site: dict[str, dict[str, int]] = {site_id: {"booked": 0, "arrived": 0, "no_show": 0} for site_id in days}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in services.store.appointments.days_rows(days):
        config = rules_of[row.site_id]
        status = rules.status_at(row.status, row.slot_start, now=now, slot_minutes=config.slot_minutes,
                                 grace_minutes=config.no_show_grace_minutes)
        if status == Status.CANCELLED:
            continue
        group = groups.setdefault((row.site_id, row.group_name), {"site": row.site_id, "group": row.group_name,
                                                                  "booked": 0, "arrived": 0, "no_show": 0})
        for counts in (per_site[row.site_id], group):
            counts["booked"] += 1
            if status in (Status.ARRIVED, Status.NO_SHOW):
                counts[status.value] += 1
    ranked = sorted(groups.values(), key=lambda group: (-group["no_show"], -group["booked"], group["site"],
                                                         group["group"]))
    return per_site, ranked
