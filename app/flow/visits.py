"""The visit commands: one function per action a person or a station takes.

Each: authorize -> (in the site's write transaction) replay an idempotent repeat or ask the
domain for the event -> append it with its visit -> publish what changed.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from app.domain import rules
from app.domain.errors import Forbidden, ValidationFailed
from app.domain.identity import document_key
from app.domain.permissions import REACH, Action, Principal, allowed, authorize
from app.domain.visit import Draft, Event, State, Visit, replay
from app.domain.vocabulary import Station

from . import appointments, audit, phone_tickets
from .phone_tickets import IssuedCode
from .ports import EventLog, SiteWrites
from .services import Services


@dataclass(frozen=True)
class Outcome:
    """What a command did: the visit after it, the event it recorded, and whether this was
    the repeat of an earlier request with the same idempotency key."""

    visit: Visit | None
    event: Event | None
    replayed: bool = False
    # Check-in only: the code of the person's live ticket on their phone, shown this once. A
    # repeat of the request changes nothing and shows none: the tablet asks for a new code.
    phone_code: IssuedCode | None = None
    # Check-in only: the booking this check-in was linked to (by its code, or the person's booking
    # today), shown in the answer that linked it.
    appointment_code: str | None = None


# A decision: (visit id, the visit before, the event to record), or None for "nothing to do".
Decision = tuple[str, Visit | None, Draft] | None


def hash_of_request(action: str, request: Mapping[str, Any]) -> str:
    """What an idempotent repeat must match: the action and its request, hashed."""
    body = json.dumps({"action": action, **request}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _execute(
    services: Services,
    principal: Principal,
    site_id: str,
    *,
    action: str,
    request: dict[str, Any],
    idempotency_key: str | None,
    decide: Callable[[SiteWrites, datetime], Decision],
) -> Outcome:
    request_hash = hash_of_request(action, request)
    now = services.clock.now()
    log: EventLog = services.store
    with log.site_transaction(site_id) as tx:
        if idempotency_key:
            found = tx.event_by_key(idempotency_key)
            if found is not None:
                earlier, earlier_hash = found
                if earlier_hash != request_hash:
                    raise ValidationFailed(
                        "This Idempotency-Key was already used for a different request.",
                        code="idempotency_key_reused",
                        fields={"Idempotency-Key": "already used for a different request"},
                    )
                replayed_event = earlier
            else:
                replayed_event = None
        else:
            replayed_event = None
        if replayed_event is None:
            decision = decide(tx, now)
            if decision is None:
                return Outcome(None, None)
            visit_id, current, draft = decision
            event, visit = tx.append(
                visit_id=visit_id,
                current=current,
                draft=draft,
                actor=principal.actor,
                at=now,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            changes = list(tx.appended)
            entry = audit.override_entry(event)
            if entry is not None:
                tx.audit(entry)
    if replayed_event is not None:
        history = log.visit_events(site_id, replayed_event.visit_id, up_to_seq=replayed_event.seq)
        return Outcome(replay(history), replayed_event, replayed=True)
    services.publish(site_id, changes)
    return Outcome(visit, event)


def _site_name(services: Services, site_id: str) -> str:
    log: EventLog = services.store
    site = log.site(site_id).site
    return f"{site.name_zh} / {site.name}"


def _visit_for(tx: SiteWrites, principal: Principal, action: str, visit_id: str) -> Visit:
    visit = tx.visit(visit_id)
    # Station staff act only on people at the stations their own station reaches.
    authorize(principal, action, site=tx.site.id, visit_station=visit.station or "closed")
    return visit


# --- check-in ---------------------------------------------------------------------------------

def check_in(
    services: Services,
    principal: Principal,
    *,
    site_id: str,
    health_code: str | None = None,
    name: str | None = None,
    document_type: str | None = None,
    document_number: str | None = None,
    phone: str | None = None,
    dose_number: int | None = None,
    priority: bool = False,
    birth_date: date | None = None,
    appointment_code: str | None = None,
    idempotency_key: str | None = None,
) -> Outcome:
    """A walk-in, or a booked person by their booking's code (the booking gives the person and the
    dose). Either way a booking of that person today is marked arrived, linked to the visit."""
    authorize(principal, Action.CHECK_IN, site=site_id, station=Station.CHECKIN)
    if appointment_code is not None:
        typed = {"name": name, "document_type": document_type, "document_number": document_number,
                 "phone": phone, "dose_number": dose_number}
        if any(value is not None for value in typed.values()):
            raise ValidationFailed("A check-in by booking takes the person from the booking.", fields={
                key: "not with an appointment_code" for key, value in typed.items() if value is not None})
        booked = appointments.booked_person(services, principal, site_id=site_id, code=appointment_code)
        name, document_type, document_number = booked["name"], booked["document_type"], booked["document_number"]
        phone, dose_number, appointment_code = booked["phone"], booked["dose_number"], booked["code"]
    else:
        booked = None
    missing = {key: "required (or an appointment_code)" for key, value in (
        ("name", name), ("document_type", document_type), ("document_number", document_number),
        ("dose_number", dose_number)) if value is None}
    if health_code is None:
        missing["health_code"] = "required"
    if missing or name is None or document_type is None or document_number is None or dose_number is None \
            or health_code is None:
        raise ValidationFailed("Some check-in fields are missing.", fields=missing)
    person = (name, document_type, document_number, dose_number, health_code)

    def decide(tx: SiteWrites, now: datetime) -> Decision:
        if booked is not None:
            # Here, not before: a repeat (same Idempotency-Key) of the check-in that marked the
            # booking arrived is replayed, not refused as "already arrived".
            appointments.require_open(booked)
        name, document_type, document_number, dose_number, health_code = person
        valid = rules.validate_check_in(
            tx.site, name=name, document_type=document_type, document_number=document_number, phone=phone,
            dose_number=dose_number, health_code=health_code, priority=priority, birth_date=birth_date, now=now,
        )
        same = tx.visits_with_document(document_key(valid.document.type, valid.document.number), valid.day)
        elsewhere = {other.site for other in same if other.site != site_id}
        draft = rules.decide_check_in(
            tx.site, valid, same_document_today=same, next_ticket=lambda: tx.next_ticket_number(valid.day),
            site_names={other: _site_name(services, other) for other in elsewhere},
        )
        return uuid.uuid4().hex, None, draft

    request = dict(
        site=site_id, name=name, document_type=document_type, document_number=document_number, phone=phone,
        dose_number=dose_number, health_code=health_code, priority=priority, birth_date=birth_date,
        appointment_code=appointment_code,
    )
    outcome = _execute(
        services, principal, site_id, action=Action.CHECK_IN, request=request, idempotency_key=idempotency_key,
        decide=decide,
    )
    if outcome.replayed or outcome.visit is None or outcome.visit.ticket is None or not outcome.visit.active:
        return outcome  # a repeat (the code was shown once), or turned away: no ticket to follow
    linked = appointments.arrived(services, outcome.visit, code=appointment_code)
    return replace(outcome, phone_code=phone_tickets.issue(services, outcome.visit, actor=principal.actor),
                   appointment_code=linked)


# --- queues -----------------------------------------------------------------------------------

def call_next(
    services: Services, principal: Principal, *, site_id: str, station: str, desk: str,
    idempotency_key: str | None = None,
) -> Outcome:
    """Call the next waiting person to a desk. Outcome.visit is None when nobody is waiting."""
    authorize(principal, Action.CALL_NEXT, site=site_id, station=station)

    def decide(tx: SiteWrites, now: datetime) -> Decision:
        tx.site.require_station(station)
        tx.site.require_desk(station, desk)
        if station == Station.INJECTION:
            observing, heading = tx.observation_load()
            rules.observation_gate(observing=observing, heading_to_observation=heading, seats=tx.site.observation.seats)
        candidate = tx.next_waiting(station)
        draft = rules.decide_call(
            tx.site, station=station, desk=desk, desk_visit=tx.visit_at_desk(station, desk), candidate=candidate
        )
        if draft is None or candidate is None:
            return None
        return candidate.id, candidate, draft

    return _execute(
        services, principal, site_id, action=Action.CALL_NEXT,
        request={"site": site_id, "station": station, "desk": desk},
        idempotency_key=idempotency_key, decide=decide,
    )


def _visit_command(
    services: Services,
    principal: Principal,
    *,
    site_id: str,
    visit_id: str,
    action: str,
    request: dict[str, Any],
    idempotency_key: str | None,
    rule: Callable[[SiteWrites, Visit, datetime], Draft],
) -> Outcome:
    """A command on one existing visit: authorize against the visit's station, then decide."""
    authorize(principal, action, site=site_id)

    def decide(tx: SiteWrites, now: datetime) -> Decision:
        visit = _visit_for(tx, principal, action, visit_id)
        return visit.id, visit, rule(tx, visit, now)

    return _execute(
        services, principal, site_id, action=action, request={"site": site_id, "visit": visit_id, **request},
        idempotency_key=idempotency_key, decide=decide,
    )


def start(services: Services, principal: Principal, *, site_id: str, visit_id: str, desk: str,
          idempotency_key: str | None = None) -> Outcome:
    """The called person arrived at the desk."""
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.START, request={"desk": desk},
        idempotency_key=idempotency_key, rule=lambda tx, visit, now: rules.decide_start(visit, desk=desk),
    )


def recall(services: Services, principal: Principal, *, site_id: str, visit_id: str,
           idempotency_key: str | None = None) -> Outcome:
    """Announce the call again."""
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.RECALL, request={},
        idempotency_key=idempotency_key, rule=lambda tx, visit, now: rules.decide_recall(tx.site, visit),
    )


def no_show(services: Services, principal: Principal, *, site_id: str, visit_id: str,
            idempotency_key: str | None = None) -> Outcome:
    """The called person did not come: back of the same queue, or closed as no-show."""
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.NO_SHOW, request={},
        idempotency_key=idempotency_key, rule=lambda tx, visit, now: rules.decide_no_show(tx.site, visit),
    )


def cancel(services: Services, principal: Principal, *, site_id: str, visit_id: str, reason: str,
           idempotency_key: str | None = None) -> Outcome:
    """The person leaves the flow before vaccination."""
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.CANCEL, request={"reason": reason},
        idempotency_key=idempotency_key, rule=lambda tx, visit, now: rules.decide_cancel(visit, reason=reason),
    )


# --- consent and injection ----------------------------------------------------------------------

def record_consent(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, desk: str, outcome: str,
    answers: dict[str, bool], allergy_history: bool, deferral_reason: str | None, signature: str | None,
    idempotency_key: str | None = None,
) -> Outcome:
    request = dict(desk=desk, outcome=outcome, answers=answers, allergy_history=allergy_history,
                   deferral_reason=deferral_reason, signature=signature)
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.CONSENT, request=request,
        idempotency_key=idempotency_key,
        rule=lambda tx, visit, now: rules.decide_consent(
            visit, desk=desk, outcome=outcome, answers=answers, allergy_history=allergy_history,
            deferral_reason=deferral_reason, signature=signature,
        ),
    )


def record_injection(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, desk: str, product: str, lot: str,
    dose_number: int, injection_site: str, route: str, checklist: list[str], idempotency_key: str | None = None,
) -> Outcome:
    request = dict(desk=desk, product=product, lot=lot, dose_number=dose_number, injection_site=injection_site,
                   route=route, checklist=checklist)
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.INJECTION, request=request,
        idempotency_key=idempotency_key,
        rule=lambda tx, visit, now: rules.decide_injection(
            tx.site, visit, vaccinator=principal.name, now=now, desk=desk, product=product, lot=lot,
            dose_number=dose_number, injection_site=injection_site, route=route, checklist=checklist,
            held=tx.lot(lot, now),
        ),
    )


# --- observation, adverse events and exit -------------------------------------------------------

def release(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, override_reason: str | None = None,
    idempotency_key: str | None = None,
) -> Outcome:
    may_override = allowed(principal, "visit.release_early", site=site_id)
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.RELEASE,
        request={"override_reason": override_reason}, idempotency_key=idempotency_key,
        rule=lambda tx, visit, now: rules.decide_release(
            visit, now=now, override_reason=override_reason, may_override=may_override,
            station=principal.station or Station.OBSERVATION,
        ),
    )


def report_aefi(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, symptoms: list[str],
    onset_at: datetime, severity: str, actions: str, outcome: str | None, serious_criteria: Sequence[str] = (),
    idempotency_key: str | None = None,
) -> Outcome:
    request = dict(symptoms=list(symptoms), onset_at=onset_at, severity=severity, actions=actions, outcome=outcome,
                   serious_criteria=list(serious_criteria))
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.AEFI, request=request,
        idempotency_key=idempotency_key,
        rule=lambda tx, visit, now: rules.decide_aefi(
            visit, now=now, symptoms=list(symptoms), onset_at=onset_at, severity=severity, actions=actions,
            outcome=outcome, serious_criteria=list(serious_criteria),
        ),
    )


def record_aefi_outcome(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, outcome: str, notes: str = "",
    idempotency_key: str | None = None,
) -> Outcome:
    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.AEFI_OUTCOME,
        request={"outcome": outcome, "notes": notes}, idempotency_key=idempotency_key,
        rule=lambda tx, visit, now: rules.decide_aefi_outcome(visit, outcome=outcome, notes=notes),
    )


# --- supervisor corrections ---------------------------------------------------------------------

def correct(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, reason: str, state: str,
    station: str | None, corrects_seq: int, idempotency_key: str | None = None,
) -> Outcome:
    def rule(tx: SiteWrites, visit: Visit, now: datetime) -> Draft:
        corrected = tx.event(corrects_seq)
        if corrected is None or corrected.visit_id != visit.id:
            raise ValidationFailed(
                f"Event #{corrects_seq} is not an event of this visit.", code="unknown_event",
                fields={"corrects_seq": "must be the sequence number of one of this visit's events"},
            )
        return rules.decide_correction(
            visit, reason=reason, state=state, station=station, corrects_seq=corrects_seq,
            corrected_type=corrected.type,
        )

    return _visit_command(
        services, principal, site_id=site_id, visit_id=visit_id, action=Action.CORRECT,
        request={"reason": reason, "state": state, "station": station, "corrects_seq": corrects_seq},
        idempotency_key=idempotency_key, rule=rule,
    )


# --- a desk's undo of its own last action -------------------------------------------------------

def undo(
    services: Services, principal: Principal, *, site_id: str, visit_id: str, seq: int,
    idempotency_key: str | None = None,
) -> Outcome:
    """Take back the visit's last event (#seq) a few seconds after recording it, as a new event.

    A station acts here on the event, not on where the person is now: the consent desk undoes
    a consent although the person already waits at injection. The event must have happened at
    the tablet's station (or a station it reaches: check-in cancels someone waiting at consent).
    """
    authorize(principal, Action.UNDO, site=site_id)

    def decide(tx: SiteWrites, now: datetime) -> Decision:
        visit = tx.visit(visit_id)
        undone = tx.event(seq)
        if undone is None or undone.visit_id != visit.id:
            raise ValidationFailed(
                f"Event #{seq} is not an event of this visit.", code="unknown_event",
                fields={"seq": "must be the sequence number of this visit's last event"},
            )
        if principal.role == "station":
            station = principal.station or ""
            if undone.station != station and undone.station not in REACH.get(station, ()):
                raise Forbidden(
                    f"Event #{seq} was recorded at {undone.station or 'no station'}: "
                    f"the {station} station may not undo it."
                )
        history = tx.visit_events(visit.id)
        previous = replay(history[:-1]) if history and history[-1].seq == seq else None
        if previous is None:
            # Not the last event (or the first one, a check-in): the rule names why.
            previous = visit
        desk_visit = None
        if previous.state in (State.CALLED, State.SERVING) and previous.station and previous.desk:
            desk_visit = tx.visit_at_desk(previous.station, previous.desk)
        same = []
        if previous.active and not visit.active:
            key = document_key(visit.person.document_type, visit.person.document_number)
            same = tx.visits_with_document(key, visit.day)
        draft = rules.decide_undo(
            visit, last_event=undone, previous=previous, actor=principal.actor, now=now,
            desk_visit=desk_visit, same_document_today=same,
        )
        return visit.id, visit, draft

    return _execute(
        services, principal, site_id, action=Action.UNDO, request={"site": site_id, "visit": visit_id, "seq": seq},
        idempotency_key=idempotency_key, decide=decide,
    )
