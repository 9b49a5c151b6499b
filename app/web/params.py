"""Query parameters: one pydantic model per list, report or page that takes them, parsed in one
place (`parse`), described in the OpenAPI document from the same model (app/web/openapi.py).

Every value is checked before anything reads it: whole numbers are written with the ASCII
digits 0-9 only (`str.isdigit()` also accepts "²" and "①", which `int()` refuses), dates are
YYYY-MM-DD within FIRST_DAY..LAST_DAY (a report of 9999-12-31 has no day after it), and names
of states, stations, formats and papers are from their lists. A bad value is a 422 whose
`fields` name the parameter; an empty value is the same as no value.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from app.domain.errors import ValidationFailed
from app.domain.immunization_export import FORMATS as EXPORT_FORMATS
from app.domain.visit import STATES
from app.domain.vocabulary import Station
from app.flow.requests import MAX_SEQ
from app.flow.simulation import MAX_DESKS, MAX_SEATS

FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2099, 12, 31)
MAX_PAGE = 500  # rows in one page of any list
PAGE = 100  # rows in one page of the users and tokens lists unless asked otherwise, and on their pages
MAX_ID = 2**31 - 1  # row ids are 32-bit integers on PostgreSQL
_DIGITS = re.compile(r"[0-9]{1,16}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _whole_number(value: Any) -> Any:
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a whole number written with the digits 0-9")
        return int(value)
    return value


def _day(value: Any) -> Any:
    if isinstance(value, str):
        if not _DAY.fullmatch(value):
            raise ValueError("must be YYYY-MM-DD")
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be YYYY-MM-DD, a real date") from None
    if isinstance(value, date) and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return value


def _comma_separated(value: Any) -> Any:
    return [item for item in value.split(",") if item] if isinstance(value, str) else value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Day = Annotated[date, BeforeValidator(_day),
                WithJsonSchema({"type": "string", "format": "date"})]
StateCode = Literal[STATES]  # type: ignore[valid-type]
StationCode = Literal[tuple(Station)]  # type: ignore[valid-type]
Text = Annotated[str, Field(max_length=160)]


class Query(BaseModel):
    """Parameters not named here are ignored (a browser adds its own, such as `lang`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ReportQuery(Query):
    date: Day | None = Field(None, description="the day, YYYY-MM-DD (default today)")
    format: Literal["json", "csv", "xlsx"] = Field("json", description="json, csv or xlsx")


class TrendQuery(Query):
    days: WholeNumber = Field(14, ge=1, le=31, description="how many days, 1-31 (default 14)")


class WhatIfQuery(Query):
    """Desks and seats to try: more than the site has, too (up to a sane maximum)."""

    consent: WholeNumber = Field(ge=1, le=MAX_DESKS, description=f"consent desks, 1-{MAX_DESKS}")
    injection: WholeNumber = Field(ge=1, le=MAX_DESKS, description=f"injection booths, 1-{MAX_DESKS}")
    seats: WholeNumber = Field(ge=1, le=MAX_SEATS, description=f"observation seats, 1-{MAX_SEATS}")


class VisitListQuery(Query):
    state: Annotated[list[StateCode], BeforeValidator(_comma_separated),
                     WithJsonSchema({"type": "string", "description": "comma-separated states"})] = Field(
        default_factory=list, description=f"comma-separated states: {', '.join(STATES)}")
    station: StationCode | None = Field(None, description="a station, or emergency")
    date: Day | None = Field(None, description="the day, YYYY-MM-DD (default today)")
    ticket: Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z0-9]+$")] | None = Field(
        None, description="one ticket number (a slip to reprint)")
    limit: WholeNumber = Field(MAX_PAGE, ge=1, le=MAX_PAGE, description=f"rows per page, 1-{MAX_PAGE}")
    after: Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] | None = Field(
        None, description="where the page starts: the `next` of the page before")


class AuditQuery(Query):
    site: Text | None = Field(None, description="site id")
    actor: Text | None = Field(None, description="part of the actor")
    action: Text | None = Field(None, description="action or its prefix")
    before_id: WholeNumber | None = Field(None, ge=1, le=MAX_SEQ,
                                          description="entries older than this id: the `next` of the page before")
    limit: WholeNumber = Field(200, ge=1, le=MAX_PAGE, description=f"rows per page, 1-{MAX_PAGE} (default 200)")


class AfterIdQuery(Query):
    """The users and displays pages: PAGE rows a page, the next from the "More" link."""

    after: WholeNumber = Field(0, ge=0, le=MAX_ID,
                               description="where the page starts: the last id of the page before (its `next` has it)")


class IdPageQuery(AfterIdQuery):
    """A list in id order a page at a time (users, tokens)."""

    limit: WholeNumber = Field(PAGE, ge=1, le=MAX_PAGE, description=f"rows per page, 1-{MAX_PAGE} (default {PAGE})")


class AuditPageQuery(Query):
    site: Text | None = None
    actor: Text | None = None
    action: Text | None = None
    since: Day | None = None
    until: Day | None = None


class DayQuery(Query):
    date: Day | None = None


PAPERS = ("58", "80", "a4")  # slip printers' paper: 58 or 80 mm rolls, or an A4 sheet


class SlipQuery(Query):
    paper: Literal[PAPERS] = "80"  # type: ignore[valid-type]
    # The phone ticket's code, as the check-in answer or a reprint gave it (22 URL-safe characters).
    code: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{22}$")


Q = TypeVar("Q", bound=Query)


def parse(model: type[Q]) -> Q:
    """This request's query parameters as `model`; 422 naming each bad parameter."""
    raw = {name: request.args[name].strip() for name in model.model_fields if request.args.get(name, "").strip()}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = {str(error["loc"][0]) if error["loc"] else "query": _message(model, error) for error in exc.errors()}
        raise ValidationFailed("Bad query parameters.", fields=fields) from None


def _message(model: type[Query], error: Any) -> str:
    """What a person reads: the range of a number, the choices of a list."""
    if error["type"] in ("greater_than_equal", "less_than_equal") and error["loc"]:
        bounds = {type(item).__name__: item for item in model.model_fields[str(error["loc"][0])].metadata}
        if "Ge" in bounds and "Le" in bounds:
            return f"must be a whole number from {bounds['Ge'].ge} to {bounds['Le'].le}"
    if error["type"] == "literal_error":
        return f"must be one of {error['ctx']['expected']}"
    return str(error["msg"]).removeprefix("Value error, ")


def parameters(model: type[Query]) -> list[dict[str, Any]]:
    """The model's parameters for the OpenAPI document."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    out = []
    for name, field in schema["properties"].items():
        field = dict(field)
        description = field.pop("description", None) or model.model_fields[name].description or name
        field.pop("title", None)
        if field.get("default") in (None, []):
            field.pop("default", None)
        out.append({"name": name, "in": "query", "required": name in required, "description": description,
                    "schema": _nullable_dropped(field)})
    return out


def _nullable_dropped(field: dict[str, Any]) -> dict[str, Any]:
    """`X | None` is `anyOf: [X, null]` in JSON Schema; a query parameter is simply left out."""
    options = field.get("anyOf")
    if options:
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            rest = {key: value for key, value in field.items() if key != "anyOf"}
            return {**kept[0], **rest}
    return field


class AppointmentListQuery(Query):
    date: Day | None = Field(None, description="the slots' day, YYYY-MM-DD (default today)")
    status: Literal["booked", "arrived", "no_show", "cancelled"] | None = Field(None, description="only these")
    after: WholeNumber = Field(0, ge=0, le=MAX_ID, description="where the page starts: the `next` of the page before")
    limit: WholeNumber = Field(200, ge=1, le=MAX_PAGE, description=f"rows per page, 1-{MAX_PAGE} (default 200)")


class ImportQuery(Query):
    skip_invalid: bool = Field(False, description="import the good rows and list the bad ones")


class ExportQuery(Query):
    """A day's export: both are required (an export names its day and its format)."""

    date: Day = Field(description="the day, YYYY-MM-DD (the site's midnight to midnight)")
    format: Literal[EXPORT_FORMATS] = Field(  # type: ignore[valid-type]
        description=f"{', '.join(EXPORT_FORMATS)}")
