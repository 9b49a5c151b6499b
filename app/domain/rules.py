"""The rules of the flow: each `decide_*` checks a request against a visit and returns the event.

Nothing here reads a clock or a database: `now` and everything looked up are passed in.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from . import stock
from .errors import Conflict, Forbidden, ValidationFailed
from .identity import Document, age_on, parse_document
from .site import Site
from .stock import LotStock
from .visit import (
    AefiReport,
    Consent,
    Draft,
    Event,
    EventType,
    Injection,
    State,
    Visit,
    observation_end,
    restore_data,
)
from .vocabulary import (
    AEFI_REPORT_HOURS,
    AEFI_SERIOUS_CRITERIA,
    AEFI_SEVERITIES,
    CHECKLIST,
    DEFERRAL_REASONS,
    HEALTH_CODES,
    INJECTION_SITES,
    QUEUE_STATIONS,
    SCREENING_QUESTIONS,
    ConsentOutcome,
    Station,
)

PRIORITY_AGE = 60
MAX_SIGNATURE_CHARS = 300_000
# How far into the future a reported onset time may lie (tablet clocks drift).
CLOCK_SKEW = timedelta(minutes=5)


def site_day(site: Site, now: datetime) -> date:
    return now.astimezone(site.tz).date()


def format_ticket(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


def _state_conflict(visit: Visit, action: str) -> Conflict:
    where = f" at {visit.station}" if visit.station else ""
    return Conflict(
        f"Ticket {visit.ticket or visit.id} is {visit.state}{where}: cannot {action}.",
        code="invalid_transition",
    )


def _require(visit: Visit, action: str, *, states: tuple[State, ...], station: Station | None = None) -> None:
    if visit.state not in states or (station is not None and visit.station != station):
        raise _state_conflict(visit, action)


def _require_desk(visit: Visit, desk: str) -> None:
    if visit.desk != desk:
        raise Conflict(
            f"Ticket {visit.ticket} was called to desk {visit.desk}, not desk {desk}.",
            code="wrong_desk",
            fields={"desk": f"the person was called to desk {visit.desk}"},
        )


# --- check-in ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckIn:
    """A validated check-in request."""

    day: date
    name: str
    document: Document
    phone: str | None
    dose_number: int
    health_code: str
    priority: bool
    priority_reason: str | None


def validate_check_in(
    site: Site,
    *,
    name: str,
    document_type: str,
    document_number: str,
    phone: str | None,
    dose_number: int,
    health_code: str,
    priority: bool,
    birth_date: date | None,
    now: datetime,
) -> CheckIn:
    today = site_day(site, now)
    fields: dict[str, str] = {}
    name = name.strip()
    if not name:
        fields["name"] = "must not be empty"
    if health_code not in HEALTH_CODES:
        fields["health_code"] = f"must be one of {', '.join(HEALTH_CODES)}"
    if not 1 <= dose_number <= 4:
        fields["dose_number"] = "must be 1, 2, 3 or 4"
    if birth_date is not None and (birth_date > today or today.year - birth_date.year > 130):
        fields["birth_date"] = "must be a real birth date (not in the future, at most 130 years ago)"
    if fields:
        raise ValidationFailed("Some check-in fields are invalid.", fields=fields)
    document = parse_document(document_type, document_number, today=today, birth_date=birth_date)
    age = age_on(document.birth_date, today)
    senior = age is not None and age >= PRIORITY_AGE
    return CheckIn(
        day=today,
        name=name,
        document=document,
        phone=phone.strip() if phone and phone.strip() else None,
        dose_number=dose_number,
        health_code=health_code,
        priority=bool(priority) or senior,
        priority_reason="requested" if priority else ("age_60_plus" if senior else None),
    )


def decide_check_in(
    site: Site, check_in: CheckIn, *, same_document_today: Sequence[Visit], next_ticket: Callable[[], int],
    site_names: Mapping[str, str] | None = None,
) -> Draft:
    """`checked_in` with a ticket (green code), or `turned_away` with the reason (yellow/red).

    `same_document_today`: the person's visits today at any site. A visit at another site is
    named by that site's name (`site_names`), never by its ticket or anything of that site."""
    for other in same_document_today:
        if other.site != site.id and (other.active or other.vaccinated):
            where = (site_names or {}).get(other.site, other.site)
            raise Conflict(
                f"This person was already checked in today at another site ({where}).",
                code="checked_in_elsewhere",
                fields={"document_number": f"already checked in today at {where}", "site": where},
            )
        if other.active:
            raise Conflict(
                f"This person already has an open visit today (ticket {other.ticket}, {other.state}).",
                code="duplicate_visit",
                fields={"document_number": f"already checked in today as {other.ticket}"},
            )
        if other.vaccinated:
            raise Conflict(
                f"This person was already vaccinated today (ticket {other.ticket}).",
                code="already_vaccinated_today",
                fields={"document_number": "already vaccinated today"},
            )
    document = check_in.document
    data: dict[str, Any] = {
        "day": check_in.day.isoformat(),
        "person": {
            "name": check_in.name,
            "document_type": document.type,
            "document_number": document.number,
            "phone": check_in.phone,
            "birth_date": document.birth_date.isoformat() if document.birth_date else None,
        },
        "dose_number": check_in.dose_number,
        "health_code": check_in.health_code,
        "priority": check_in.priority,
        "priority_reason": check_in.priority_reason,
    }
    if check_in.health_code != "green":
        data["reason"] = f"health_code_{check_in.health_code}"
        return Draft(EventType.TURNED_AWAY, data, station=Station.CHECKIN)
    data["ticket"] = format_ticket(site.ticket_prefix, next_ticket())
    return Draft(EventType.CHECKED_IN, data, station=Station.CHECKIN)


# --- queue actions ----------------------------------------------------------------------------

def observation_gate(*, observing: int, heading_to_observation: int, seats: int) -> None:
    """Injection booths must not call the next person when observation seats are full."""
    if observing + heading_to_observation >= seats:
        raise Conflict(
            f"Observation is full ({observing} seated, {heading_to_observation} being injected, "
            f"{seats} seats): wait until someone is released.",
            code="observation_full",
        )


def decide_call(site: Site, *, station: str, desk: str, desk_visit: Visit | None, candidate: Visit | None) -> Draft | None:
    """Call the next waiting person to a desk. None when nobody is waiting."""
    site.require_station(station)
    if station not in QUEUE_STATIONS:
        raise Conflict(f"Station {station} has no queue to call from.", code="no_queue")
    site.require_desk(station, desk)
    if desk_visit is not None:
        raise Conflict(
            f"Ticket {desk_visit.ticket} is still {desk_visit.state} at desk {desk}: "
            "record their outcome, recall them, or mark them as a no-show first.",
            code="desk_busy",
        )
    if candidate is None:
        return None
    if candidate.state != State.WAITING or candidate.station != station:
        raise _state_conflict(candidate, "be called")
    return Draft(EventType.CALLED, {"ticket": candidate.ticket}, station=station, desk=desk)


def decide_recall(site: Site, visit: Visit) -> Draft:
    _require(visit, "be recalled", states=(State.CALLED,))
    if visit.recalls >= site.queue.max_recalls:
        raise Conflict(
            f"Ticket {visit.ticket} was already recalled {visit.recalls} times: mark as no-show.",
            code="recall_limit",
        )
    return Draft(EventType.RECALLED, {"ticket": visit.ticket, "recall": visit.recalls + 1}, station=visit.station, desk=visit.desk)


def decide_start(visit: Visit, *, desk: str) -> Draft:
    _require(visit, "start being served", states=(State.CALLED,))
    _require_desk(visit, desk)
    return Draft(EventType.STARTED, {}, station=visit.station, desk=desk)


def decide_no_show(site: Site, visit: Visit) -> Draft:
    """A called person did not come: back of the same queue, or out after too many times."""
    _require(visit, "be marked as a no-show", states=(State.CALLED,))
    if visit.requeues >= site.queue.max_requeues:
        return Draft(EventType.NO_SHOW, {"requeues": visit.requeues}, station=visit.station, desk=visit.desk)
    return Draft(EventType.REQUEUED, {"requeues": visit.requeues + 1}, station=visit.station, desk=visit.desk)


def decide_cancel(visit: Visit, *, reason: str) -> Draft:
    if visit.vaccinated:
        raise Conflict(
            "A vaccinated person leaves through release (or an adverse-event transfer), not cancel.",
            code="invalid_transition",
        )
    _require(visit, "leave the flow", states=(State.WAITING, State.CALLED, State.SERVING))
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("A reason is required.", fields={"reason": "must not be empty"})
    return Draft(EventType.CANCELLED, {"reason": reason}, station=visit.station, desk=visit.desk)


# --- consent ----------------------------------------------------------------------------------

# The event each consent outcome records (looked up by the outcome as sent: plain text).
_CONSENT_EVENTS: dict[str, EventType] = {
    ConsentOutcome.ELIGIBLE: EventType.CONSENTED,
    ConsentOutcome.DEFERRED: EventType.DEFERRED,
    ConsentOutcome.REFUSED: EventType.REFUSED,
}


def decide_consent(
    visit: Visit,
    *,
    desk: str,
    outcome: str,
    answers: Mapping[str, bool],
    allergy_history: bool,
    deferral_reason: str | None,
    signature: str | None,
) -> Draft:
    _require(visit, "record consent", states=(State.CALLED, State.SERVING), station=Station.CONSENT)
    _require_desk(visit, desk)
    fields: dict[str, str] = {}
    missing = [code for code in SCREENING_QUESTIONS if code not in answers]
    unknown = [code for code in answers if code not in SCREENING_QUESTIONS]
    if missing:
        fields["answers"] = f"missing answers: {', '.join(missing)}"
    elif unknown:
        fields["answers"] = f"unknown questions: {', '.join(unknown)}"
    if outcome not in ("eligible", "deferred", "refused"):
        fields["outcome"] = "must be eligible, deferred or refused"
    if outcome == ConsentOutcome.DEFERRED and deferral_reason not in DEFERRAL_REASONS:
        fields["deferral_reason"] = f"a deferral needs a reason: one of {', '.join(DEFERRAL_REASONS)}"
    if outcome != ConsentOutcome.DEFERRED and deferral_reason is not None:
        fields["deferral_reason"] = "only a deferral has a reason"
    if outcome == "eligible":
        positive = [code for code in SCREENING_QUESTIONS if answers.get(code)]
        if positive and not missing:
            fields["outcome"] = f"contraindication answered yes ({', '.join(positive)}): defer or refuse"
        if signature is None:
            fields["signature"] = "consent must be signed (an image) or explicitly confirmed"
        elif signature != "confirmed" and not signature.startswith("data:image/"):
            fields["signature"] = "must be a data URL of the signature image, or 'confirmed'"
        elif len(signature) > MAX_SIGNATURE_CHARS:
            fields["signature"] = f"the signature image is larger than {MAX_SIGNATURE_CHARS} characters"
    if fields:
        raise ValidationFailed("The consent form is incomplete or inconsistent.", fields=fields)
    consent: Consent = {
        "outcome": outcome,
        "answers": {code: bool(answers[code]) for code in SCREENING_QUESTIONS},
        "allergy_history": bool(allergy_history),
        "deferral_reason": deferral_reason,
        "signature": signature if outcome == "eligible" else None,
        "desk": desk,
    }
    return Draft(_CONSENT_EVENTS[outcome], {"consent": consent}, station=Station.CONSENT, desk=desk)


# --- injection --------------------------------------------------------------------------------

def decide_injection(
    site: Site,
    visit: Visit,
    *,
    desk: str,
    product: str,
    lot: str,
    dose_number: int,
    injection_site: str,
    route: str,
    checklist: Sequence[str],
    vaccinator: str,
    now: datetime,
    held: LotStock | None,
) -> Draft:
    """`held`: the site's stock of the lot named (None: it holds none). The dose is drawn from
    the desk's open vial of it, or from a vial this injection opens (the event's `draw`)."""
    _require(visit, "be injected", states=(State.CALLED, State.SERVING), station=Station.INJECTION)
    _require_desk(visit, desk)
    fields: dict[str, str] = {}
    missing = [code for code in CHECKLIST if code not in checklist]
    unknown = [code for code in checklist if code not in CHECKLIST]
    if missing:
        fields["checklist"] = f"三查七对一验证 incomplete, missing: {', '.join(missing)}"
    elif unknown:
        fields["checklist"] = f"unknown checklist items: {', '.join(unknown)}"
    found = site.product(product)
    chosen_lot = None
    if found is None:
        fields["product"] = f"unknown product {product!r}"
    else:
        listed = found.find_lot(lot)  # the site file's lots: what the desk's scanner knows
        if held is None and listed is not None and listed.expires_on < site_day(site, now):
            fields["lot"] = f"lot {lot} expired on {listed.expires_on.isoformat()}: do not use it"
        elif held is None:
            fields["lot"] = f"this site holds no lot {lot!r}"
        elif held.product != found.code:
            fields["lot"] = f"lot {lot!r} is not a lot of {found.code}"
        elif held.expires_on < site_day(site, now):
            fields["lot"] = f"lot {lot} expired on {held.expires_on.isoformat()}: do not use it"
        else:
            chosen_lot = held
        if route != found.route:
            fields["route"] = f"{found.code} is given {found.route}"
    if dose_number != visit.dose_number:
        fields["dose_number"] = f"the person checked in for dose {visit.dose_number}"
    if injection_site not in INJECTION_SITES:
        fields["site"] = f"must be one of {', '.join(INJECTION_SITES)}"
    if fields:
        raise ValidationFailed("The injection record is incomplete or not allowed.", fields=fields)
    assert found is not None and chosen_lot is not None
    dose = stock.draw(site, chosen_lot, desk=desk, now=now)  # 409 naming the lot when it is empty
    minutes = site.observation.extended_minutes if visit.extended_observation else site.observation.minutes
    leave_at = observation_end(now, minutes)
    injection: Injection = {
        "product": found.code,
        "product_name": found.name,
        "manufacturer": found.manufacturer,
        "specification": found.specification,
        "lot": chosen_lot.lot,
        "expires_on": chosen_lot.expires_on.isoformat(),
        "dose_number": dose_number,
        "site": injection_site,
        "route": route,
        "vaccinator": vaccinator,
        "desk": desk,
        "checklist": list(CHECKLIST),
        "observation_minutes": minutes,
    }
    return Draft(EventType.INJECTED, {"injection": injection, "leave_at": leave_at.isoformat(), "draw": dose},
                 station=Station.INJECTION, desk=desk)


# --- observation and exit ---------------------------------------------------------------------

def decide_release(visit: Visit, *, now: datetime, override_reason: str | None, may_override: bool, station: str) -> Draft:
    _require(visit, "be released", states=(State.OBSERVING,))
    assert visit.leave_at is not None
    data: dict[str, Any] = {"leave_at": visit.leave_at.isoformat()}
    if now < visit.leave_at:
        remaining = visit.leave_at - now
        minutes = int(remaining.total_seconds() // 60)
        seconds = int(remaining.total_seconds() % 60)
        if override_reason is None:
            raise Conflict(
                f"Ticket {visit.ticket} may leave at {visit.leave_at.isoformat()}: "
                f"{minutes} min {seconds} s of observation remain.",
                code="early_release",
                fields={"remaining_seconds": str(int(remaining.total_seconds()))},
            )
        if not may_override:
            raise Forbidden("Only a supervisor may release someone before the end of observation.")
        if not override_reason.strip():
            raise ValidationFailed("An early release needs a reason.", fields={"override_reason": "must not be empty"})
        data["override_reason"] = override_reason.strip()
        data["early_by_seconds"] = int(remaining.total_seconds())
    return Draft(EventType.RELEASED, data, station=station)


def aefi_report_due(severity: str, known_at: datetime) -> datetime:
    return known_at + timedelta(hours=AEFI_REPORT_HOURS[severity])


def decide_aefi(
    visit: Visit,
    *,
    symptoms: Sequence[str],
    onset_at: datetime,
    severity: str,
    serious_criteria: Sequence[str],
    actions: str,
    outcome: str | None,
    now: datetime,
) -> Draft:
    if not visit.vaccinated:
        raise Conflict("An adverse event following immunisation needs an injection first.", code="invalid_transition")
    _require(visit, "report an adverse event", states=(State.OBSERVING, State.EMERGENCY))
    fields: dict[str, str] = {}
    symptoms = [item.strip() for item in symptoms if item.strip()]
    if not symptoms:
        fields["symptoms"] = "list at least one symptom"
    if severity not in AEFI_SEVERITIES:
        fields["severity"] = f"must be one of {', '.join(AEFI_SEVERITIES)}"
    if severity == "serious" and not serious_criteria:
        fields["serious_criteria"] = f"a serious event names its criteria: {', '.join(AEFI_SERIOUS_CRITERIA)}"
    unknown = [item for item in serious_criteria if item not in AEFI_SERIOUS_CRITERIA]
    if unknown:
        fields["serious_criteria"] = f"unknown criteria: {', '.join(unknown)}"
    assert visit.injected_at is not None
    if onset_at < visit.injected_at:
        fields["onset_at"] = "must not be before the injection"
    elif onset_at > now + CLOCK_SKEW:
        fields["onset_at"] = "must not be in the future"
    if outcome not in (None, "recovered", "transferred"):
        fields["outcome"] = "must be null, recovered or transferred"
    if fields:
        raise ValidationFailed("The adverse-event report is incomplete.", fields=fields)
    report: AefiReport = {
        "symptoms": symptoms,
        "onset_at": onset_at.isoformat(),
        "severity": severity,
        "serious_criteria": list(serious_criteria),
        "actions": actions.strip(),
        "outcome": outcome,
        "reported_at": now.isoformat(),
        "report_due_at": aefi_report_due(severity, now).isoformat(),
    }
    return Draft(EventType.AEFI_REPORTED, {"aefi": report}, station=visit.station)


def decide_aefi_outcome(visit: Visit, *, outcome: str, notes: str) -> Draft:
    _require(visit, "resolve an adverse event", states=(State.EMERGENCY,))
    if outcome not in ("recovered", "transferred"):
        raise ValidationFailed("Unknown outcome.", fields={"outcome": "must be recovered or transferred"})
    return Draft(EventType.AEFI_RESOLVED, {"outcome": outcome, "notes": notes.strip()}, station=Station.EMERGENCY)


# --- supervisor corrections -------------------------------------------------------------------

CORRECTION_TARGETS = (State.WAITING, State.LEFT)


def decide_correction(visit: Visit, *, reason: str, state: str, station: str | None, corrects_seq: int, corrected_type: str) -> Draft:
    """A supervisor's explicit correction of a mistake, recorded as its own event.

    Allowed: return a person who was not vaccinated to the queue of consent or injection
    (e.g. a deferral recorded by mistake), or close a visit as `left`.
    """
    fields: dict[str, str] = {}
    if not reason.strip():
        fields["reason"] = "a correction needs a reason"
    if state not in CORRECTION_TARGETS:
        fields["state"] = f"must be one of {', '.join(CORRECTION_TARGETS)}"
    if state == State.WAITING and station not in QUEUE_STATIONS:
        fields["station"] = f"must be one of {', '.join(QUEUE_STATIONS)}"
    if state == State.WAITING and station == Station.INJECTION and not (visit.consent and visit.consent.get("outcome") == ConsentOutcome.ELIGIBLE):
        fields["station"] = "only someone with an eligible consent can be put in the injection queue"
    if fields:
        raise ValidationFailed("The correction is not valid.", fields=fields)
    if visit.vaccinated:
        raise Conflict(
            "A vaccinated person's visit cannot be moved back: the dose was given.", code="invalid_transition"
        )
    if state == State.WAITING and visit.ticket is None:
        raise Conflict("A person turned away at the door has no ticket: check them in again.", code="invalid_transition")
    if state == State.LEFT and not visit.active:
        raise Conflict(f"Ticket {visit.ticket} is already closed ({visit.state}).", code="invalid_transition")
    return Draft(
        EventType.CORRECTED,
        {
            "reason": reason.strip(),
            "corrects_seq": corrects_seq,
            "corrects_type": corrected_type,
            "from": {"state": visit.state, "station": visit.station},
            "to": {"state": state, "station": station if state == State.WAITING else None},
        },
        station=station,
    )


# --- a desk's undo of its own last action -------------------------------------------------------

# What a desk may take back within UNDO_SECONDS: its own queue moves and outcomes. An injection,
# an adverse event, a check-in or a correction is never undone: a supervisor corrects it.
UNDOABLE = (EventType.CALLED, EventType.RECALLED, EventType.STARTED, EventType.REQUEUED, EventType.NO_SHOW, EventType.CONSENTED, EventType.DEFERRED, EventType.REFUSED, EventType.RELEASED,
            EventType.CANCELLED)
UNDO_SECONDS = 15


def _undo_refused(visit: Visit, seq: int, why: str) -> Conflict:
    return Conflict(
        f"Cannot undo event #{seq} of ticket {visit.ticket or visit.id}: {why}", code="undo_not_possible",
        fields={"seq": why},
    )


def decide_undo(
    visit: Visit,
    *,
    last_event: Event,
    previous: Visit,
    actor: str,
    now: datetime,
    desk_visit: Visit | None = None,
    same_document_today: Sequence[Visit] = (),
) -> Draft:
    """Undo the visit's last event: a `reverted` event that puts back the visit as it was before.

    `previous` is the visit replayed from its events before `last_event`. `desk_visit` is whoever
    is called to or served at the desk the undo would put the person back at (None: nobody),
    `same_document_today` the other visits of the same document on the visit's day.
    """
    seq = last_event.seq
    if last_event.visit_id != visit.id:
        raise ValidationFailed(
            f"Event #{seq} is not an event of this visit.", code="unknown_event",
            fields={"seq": "must be the sequence number of this visit's last event"},
        )
    if last_event.type not in UNDOABLE:
        raise _undo_refused(
            visit, seq,
            f"a {last_event.type} event cannot be undone; ask a supervisor for a correction.",
        )
    if visit.last_seq != seq:
        raise _undo_refused(visit, seq, f"it is no longer the visit's last event (that is #{visit.last_seq}).")
    if last_event.actor != actor:
        raise Forbidden(
            f"Event #{seq} of ticket {visit.ticket or visit.id} was recorded by {last_event.actor}: "
            "only whoever recorded an action may undo it.",
            code="undo_not_yours",
        )
    elapsed = now - last_event.at
    if elapsed > timedelta(seconds=UNDO_SECONDS):
        raise _undo_refused(
            visit, seq,
            f"it was recorded {int(elapsed.total_seconds())} s ago; an undo is possible for {UNDO_SECONDS} s, "
            "after that ask a supervisor for a correction.",
        )
    if previous.state in (State.CALLED, State.SERVING) and desk_visit is not None and desk_visit.id != visit.id:
        raise _undo_refused(
            visit, seq,
            f"desk {previous.desk} at {previous.station} has meanwhile called ticket {desk_visit.ticket}.",
        )
    if previous.active and not visit.active:
        for other in same_document_today:
            if other.id != visit.id and other.active:
                raise _undo_refused(
                    visit, seq, f"the person has meanwhile an open visit (ticket {other.ticket}, {other.state}).",
                )
    return Draft(
        EventType.REVERTED,
        {"reverts_seq": seq, "reverts_type": last_event.type, "restore": restore_data(previous)},
        station=last_event.station,
        desk=last_event.desk,
    )
