"""Visits to and from the JSON stored in visits.data."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from app.domain.visit import Person, Visit

_DATETIMES = ("checked_in_at", "called_at", "injected_at", "leave_at", "released_at", "closed_at")


def visit_to_json(visit: Visit) -> dict[str, Any]:
    data = dataclasses.asdict(visit)
    data["day"] = visit.day.isoformat()
    data["person"]["birth_date"] = visit.person.birth_date.isoformat() if visit.person.birth_date else None
    for name in _DATETIMES:
        value = getattr(visit, name)
        data[name] = value.isoformat() if value else None
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
