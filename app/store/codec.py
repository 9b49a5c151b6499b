"""Visits to and from the JSON stored in visits.data."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.domain.visit import Person, Visit

_DATETIMES = ("checked_in_at", "called_at", "injected_at", "leave_at", "released_at", "closed_at")


def visit_to_json(visit: Visit) -> dict[str, Any]:
    """The visit as JSON-ready data. Field by field, not `dataclasses.asdict`, whose deep copy
    was a sixth of an action's time; nested records are copied one level (nothing here or in
    the sealing changes them in place)."""
    data = dict(visit.__dict__)
    person = visit.person
    data["person"] = {
        "name": person.name, "document_type": person.document_type, "document_number": person.document_number,
        "phone": person.phone, "birth_date": person.birth_date.isoformat() if person.birth_date else None,
    }
    data["day"] = visit.day.isoformat()
    for name in _DATETIMES:
        value = data[name]
        data[name] = value.isoformat() if value else None
    for name in ("consent", "injection"):
        if data[name] is not None:
            data[name] = dict(data[name])
    data["aefi"] = [dict(report) for report in visit.aefi]
    return data


def visit_from_json(data: dict[str, Any]) -> Visit:
    values = dict(data)
    person = dict(values.pop("person"))
    person["birth_date"] = date.fromisoformat(person["birth_date"]) if person["birth_date"] else None
    values["person"] = Person(**person)
    values["day"] = date.fromisoformat(values["day"])
    for name in _DATETIMES:
        values[name] = datetime.fromisoformat(values[name]) if values[name] else None
    values["aefi"] = tuple(values["aefi"])
    return Visit(**values)
