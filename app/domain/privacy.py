"""What each audience sees of a visit. Displays never get a visit at all (only snapshots)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .identity import age_on, mask_name, mask_tail
from .visit import Consent, Event, Visit

PERSONAL_FIELDS = ("name", "document_number", "phone", "birth_date")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def person_view(visit: Visit, level: str) -> dict[str, Any]:
    person = visit.person
    age = age_on(person.birth_date, visit.day)
    if level == "full":
        return {
            "name": person.name,
            "document_type": person.document_type,
            "document_number": person.document_number,
            "phone": person.phone,
            "birth_date": person.birth_date.isoformat() if person.birth_date else None,
            "age": age,
        }
    return {
        "name": mask_name(person.name),
        "document_type": person.document_type,
        "document_last4": person.document_number[-4:],
        "phone": mask_tail(person.phone),
        "age": age,
    }


def consent_view(consent: Consent | None, level: str) -> dict[str, Any] | None:
    if consent is None:
        return None
    view: dict[str, Any] = {
        "outcome": consent["outcome"],
        "allergy_history": consent["allergy_history"],
        "deferral_reason": consent["deferral_reason"],
        "signed": consent.get("signature") is not None,
        "desk": consent.get("desk"),
    }
    if level == "full":
        view["answers"] = dict(consent["answers"])
    return view


def visit_view(visit: Visit, level: str, *, now: datetime) -> dict[str, Any]:
    """A visit for staff: `full` for supervisors, `masked` for station tablets."""
    if level not in ("full", "masked"):
        raise ValueError(f"no visit view for level {level!r}")
    observation = None
    if visit.injected_at is not None and visit.leave_at is not None:
        observation = {
            "started_at": visit.injected_at.isoformat(),
            "leave_at": visit.leave_at.isoformat(),
            "minutes": visit.injection["observation_minutes"] if visit.injection else None,
            "extended": visit.extended_observation,
            "may_leave": visit.may_leave(now),
            "remaining_seconds": max(0, int((visit.leave_at - now).total_seconds())),
        }
    return {
        "id": visit.id,
        "site": visit.site,
        "day": visit.day.isoformat(),
        "ticket": visit.ticket,
        "state": visit.state,
        "station": visit.station,
        "desk": visit.desk,
        "priority": visit.priority,
        "dose_number": visit.dose_number,
        "health_code": visit.health_code,
        "person": person_view(visit, level),
        "checked_in_at": visit.checked_in_at.isoformat(),
        "called_at": _iso(visit.called_at),
        "recalls": visit.recalls,
        "requeues": visit.requeues,
        "consent": consent_view(visit.consent, level),
        "injection": {k: v for k, v in visit.injection.items() if k != "checklist"} if visit.injection else None,
        "observation": observation,
        "aefi": [dict(report) for report in visit.aefi],
        "released_at": _iso(visit.released_at),
        "release_override": visit.release_override,
        "closed_reason": visit.closed_reason,
        "closed_at": _iso(visit.closed_at),
        "vaccinated": visit.vaccinated,
        "version": visit.version,
    }


def event_view(event: Event, level: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "station": event.station,
        "desk": event.desk,
    }
    if level == "full":
        view["data"] = _without_signature(event.data)
        if isinstance(event.data.get("restore"), dict):  # a `reverted` event puts a consent back
            view["data"]["restore"] = _without_signature(event.data["restore"])
    return view


def _without_signature(data: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("consent"), dict) and data["consent"].get("signature"):
        data["consent"] = dict(data["consent"], signature="(stored)")
    return data
