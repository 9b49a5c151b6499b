"""The OpenAPI 3.1 document, built from the routes themselves.

Every API view carries its documentation (`@documented`); `build_document` walks the URL
map, so a route cannot exist without appearing here (a test checks every route is
documented).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import current_app
from pydantic import BaseModel

from app.domain.stock import WASTE_REASONS
from app.domain.visit import EVENT_TYPES
from app.flow.commands import COMMANDS
from app.flow.responses import VisitEnvelope

from .params import Query, parameters

_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_TIME = {"type": "string", "format": "date-time"}
_NEXT = {"type": ["string", "null"], "description": "the next page's link; null at the end"}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
        },
    },
    "VisitList": {
        "type": "object", "required": ["visits", "next"],
        "properties": {"visits": {"type": "array", "items": {"$ref": "#/components/schemas/Visit"}},
                       "next": _NEXT},
    },
    "Event": {
        "type": "object",
        "required": ["seq", "type", "at", "actor"],
        "properties": {
            "seq": {"type": "integer"},
            "type": {"type": "string", "enum": list(EVENT_TYPES),
                     "description": "`reverted`: a desk's undo; its data names `reverts_seq` and what it put back."},
            "at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"}, "station": _NULLABLE_STR, "desk": _NULLABLE_STR,
            "data": {"type": "object", "description": "Supervisors only."},
        },
    },
    "VisitDetail": {
        "type": "object",
        "required": ["visit", "events"],
        "properties": {
            "visit": {"$ref": "#/components/schemas/Visit"},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        },
    },
    "Snapshot": {
        "type": "object",
        "required": ["site", "seq", "stations", "calling", "observation"],
        "properties": {
            "site": {"type": "string"},
            "seq": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "stations": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["waiting", "called", "serving", "desks"],
                    "properties": {
                        "waiting": {"type": "integer"}, "called": {"type": "integer"}, "serving": {"type": "integer"},
                        "desks": {"type": "object"},
                        "expected_wait_minutes": {
                            "type": ["integer", "null"],
                            "description": "Queue stations: about how long someone joining now waits (null: "
                                           "too few services in the last 30 minutes to say)",
                        },
                        "desks_open": {"type": "integer"},
                    },
                },
            },
            "calling": {
                "type": "array",
                "items": {
                    "type": "object", "required": ["ticket", "station", "desk", "at"],
                    "properties": {"ticket": {"type": "string"}, "station": {"type": "string"},
                                   "desk": {"type": "string"}, "at": {"type": "string", "format": "date-time"}},
                    "additionalProperties": False,
                },
            },
            "observation": {
                "type": "object", "required": ["count", "capacity", "ready"],
                "properties": {"count": {"type": "integer"}, "capacity": {"type": "integer"},
                               "heading": {"type": "integer"},
                               "ready": {"type": "array", "items": {"type": "string"}},
                               "board": {"type": "array", "items": {
                                   "type": "object", "required": ["ticket", "leave_at", "ready"],
                                   "properties": {"ticket": {"type": "string"},
                                                  "leave_at": {"type": "string", "format": "date-time"},
                                                  "ready": {"type": "boolean"}}}}},
            },
            "emergency": {"type": "object"},
        },
    },
    "SiteInfo": {
        "type": "object",
        "required": ["id", "name", "timezone", "stations", "observation", "products", "screening_questions",
                     "deferral_reasons", "checklist"],
    },
    "Dashboard": {
        "type": "object",
        "required": ["site", "day", "seq", "stations", "bottleneck", "throughput", "target", "time_in_system",
                     "observation", "aefi", "outcomes", "desks", "vaccinators", "vaccine", "alerts", "vials"],
        "description": "Definitions: docs/ANALYTICS.md",
        "properties": {"vials": {"$ref": "#/components/schemas/OpenVials"}},
    },
    "OpenVials": {
        "type": "object", "additionalProperties": False,
        "description": "The open vials now, and whether the people in the queue can use them up: every dose "
                       "left in an open vial needs one more person (`people_needed` = `doses_left`); the queue "
                       "is the people waiting, called or at a desk at injection and, upstream, at consent. "
                       "`near_closing`: from an hour before the site's closing time on.",
        "required": ["open", "doses_left", "people_needed", "queue", "enough", "short", "closes_at",
                     "minutes_to_closing", "near_closing"],
        "properties": {
            "open": {"type": "array", "description": "soonest discard time first", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["product", "lot", "vial", "desk", "doses_left", "discard_at", "minutes_left"],
                "properties": {"product": {"type": "string"}, "lot": {"type": "string"}, "vial": {"type": "integer"},
                               "desk": _NULLABLE_STR, "doses_left": {"type": "integer", "minimum": 1},
                               "discard_at": _TIME, "minutes_left": {"type": "integer", "minimum": 0}}}},
            "doses_left": {"type": "integer", "minimum": 0},
            "people_needed": {"type": "integer", "minimum": 0},
            "queue": {"type": "object", "additionalProperties": False, "required": ["injection", "consent", "total"],
                      "properties": {"injection": {"type": "integer"}, "consent": {"type": "integer"},
                                     "total": {"type": "integer"}}},
            "enough": {"type": "boolean"},
            "short": {"type": "integer", "minimum": 0, "description": "people missing to use up the open vials"},
            "closes_at": _TIME,
            "minutes_to_closing": {"type": "integer", "minimum": 0},
            "near_closing": {"type": "boolean"},
        },
    },
    "DailyReport": {
        "type": "object",
        "required": ["site", "date", "totals", "outcomes", "by_hour", "by_station", "by_dose", "by_age_band",
                     "by_product_lot", "aefi", "closed_loop", "stock"],
        "properties": {"stock": {"$ref": "#/components/schemas/ReportStock"}},
    },
    "ReportStock": {
        "type": "object", "additionalProperties": False,
        "description": "The day's stock sheet (GET /sites/{site}/stock) as the report shows it, in doses; times "
                       "in the site's time zone.",
        "required": ["as_of", "lots", "total", "wastage", "wasted_by_reason", "unexplained", "closed"],
        "properties": {
            "as_of": _TIME,
            "lots": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["product", "lot", "expires_on", "doses_per_vial", "opening", "received", "moved_in",
                             "moved_out", "given", "wasted", "wasted_by_reason", "left", "counted_closing",
                             "difference", "balanced", "explained", "explanation"],
                "properties": {
                    "product": {"type": "string"}, "lot": {"type": "string"},
                    "expires_on": {"type": "string", "format": "date"}, "doses_per_vial": {"type": "integer"},
                    **{key: {"type": "integer"} for key in ("opening", "received", "moved_in", "moved_out", "given",
                                                            "wasted", "left", "difference")},
                    "wasted_by_reason": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "counted_closing": {"type": ["integer", "null"], "description": "null: not counted at closing"},
                    "balanced": {"type": "boolean"}, "explained": {"type": "boolean"},
                    "explanation": _NULLABLE_STR}}},
            "total": {"type": "object"},
            "wastage": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["product", "lot", "reason", "doses"],
                "properties": {"product": {"type": "string"}, "lot": {"type": "string"},
                               "reason": {"type": "string", "enum": list(WASTE_REASONS)},
                               "doses": {"type": "integer"}}}},
            "wasted_by_reason": {"type": "object", "additionalProperties": {"type": "integer"}},
            "unexplained": {"type": "array", "items": {"type": "string"}},
            "closed": {"type": ["object", "null"], "required": ["at", "by"],
                       "properties": {"at": _TIME, "by": {"type": "string"}}},
        },
    },
    "CityReport": {"type": "object", "required": ["date", "sites"]},
    "Trend": {"type": "object", "required": ["site", "days"]},
    "CityTrend": {
        "type": "object", "required": ["sites"],
        "properties": {"sites": {"type": "array", "items": {
            "type": "object", "required": ["site", "days"],
            "properties": {"site": {"type": "string"}, "days": {"type": "array", "items": {
                "type": "object", "required": ["date", "doses"],
                "properties": {"date": {"type": "string", "format": "date"}, "doses": {"type": "integer"}}}}}}}},
    },
    "WhatIf": {"type": "object", "required": ["now", "proposed", "waiting_now", "note"]},
    "SiteList": {
        "type": "object", "required": ["sites"],
        "properties": {"sites": {"type": "array", "items": {"type": "object", "required": ["id", "name"]}}},
    },
    "Me": {
        "type": "object", "required": ["name", "role", "actor", "sites", "station", "settings"],
        "properties": {
            "name": {"type": "string"}, "role": {"type": "string"}, "actor": {"type": "string"},
            "sites": {"type": ["array", "null"], "items": {"type": "string"}},
            "station": {"type": ["string", "null"]}, "settings": {"type": ["object", "null"]},
        },
    },
    "AuditList": {
        "type": "object", "required": ["entries", "next"],
        "properties": {"entries": {"type": "array", "items": {
            "type": "object", "required": ["id", "at", "actor", "action", "outcome", "site", "subject", "detail"],
            "properties": {"id": {"type": "integer"}, "at": {"type": "string"}, "actor": {"type": "string"},
                           "action": {"type": "string"}, "outcome": {"type": "string"},
                           "site": {"type": ["string", "null"]}, "subject": {"type": ["string", "null"]},
                           "detail": {"type": "object"}},
        }}, "next": _NEXT},
    },
    "UserList": {
        "type": "object", "required": ["users", "next"],
        "properties": {"users": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "username", "display_name", "role", "sites", "stations", "active", "has_pin",
                         "must_change_password", "created_at", "updated_at"],
            "properties": {"id": {"type": "integer"}, "username": {"type": "string"},
                           "display_name": {"type": "string"}, "role": {"type": "string"},
                           "sites": {"type": ["array", "null"], "items": {"type": "string"},
                                     "description": "null: every site (admin, city supervisor)"},
                           "stations": {"type": "array", "items": {"type": "string"}},
                           "active": {"type": "boolean"}, "has_pin": {"type": "boolean"},
                           "must_change_password": {"type": "boolean"}, "created_at": _TIME, "updated_at": _TIME},
        }}, "next": _NEXT},
    },
    "TokenList": {
        "type": "object", "required": ["tokens", "next"],
        "properties": {"tokens": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "name", "role", "sites", "station", "settings", "created_at", "created_by",
                         "revoked_at"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "role": {"type": "string"},
                           "sites": {"type": ["array", "null"], "items": {"type": "string"},
                                     "description": "null: every site"},
                           "station": _NULLABLE_STR,
                           "settings": {"type": ["object", "null"], "description": "a paired display's screen"},
                           "created_at": _TIME, "created_by": _NULLABLE_STR, "revoked_at": _NULLABLE_TIME},
        }}, "next": _NEXT},
    },
}


def documented(
    summary: str,
    *,
    tag: str,
    response: str | type[BaseModel] | None,
    body: type[BaseModel] | None = None,
    status: int = 200,
    idempotent: bool = False,
    no_content: bool = False,
    public: bool = False,
    query: type[Query] | None = None,
    files: tuple[str, ...] = (),
    uploads: tuple[str, ...] = (),
) -> Callable:
    """`files`: other media types the answer may have (chosen with ?format=; with no `response`,
    the only ones); `uploads`: the media types of a file sent as the body (instead of a JSON `body`)."""
    def mark(view: Callable) -> Callable:
        view.openapi = {
            "summary": summary, "tag": tag, "response": response, "body": body, "status": status,
            "idempotent": idempotent, "no_content": no_content, "public": public, "query": query,
            "files": files, "uploads": uploads,
        }
        return view

    return mark


_ERRORS = {
    "400": "Malformed JSON, body not an object, or (cookie sessions) a missing CSRF token",
    "401": "Missing, unknown or revoked token",
    "403": "The token's role or scope does not allow this",
    "404": "Unknown site, station or visit",
    "409": "The current state does not allow this",
    "405": "The path exists but not with this method",
    "413": "The request body is larger than the server accepts",
    "422": "A field is missing, of the wrong type, or breaks a rule",
}


def _add_model(model: type[BaseModel], schemas: dict[str, Any]) -> None:
    """A pydantic model's JSON schema (and those it refers to) among the document's components."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema


def _visit_links() -> dict[str, Any]:
    """From an answer naming a visit to what can be done with it next: read it, or run any
    command on it (the stateful fuzz follows these)."""
    on_the_visit = {"site": "$request.path.site", "visit_id": "$response.body#/visit/id"}
    links = {"GetVisit": {"operationId": "get_visit", "parameters": on_the_visit}}
    for command in COMMANDS.values():
        if "visit_id" in command.path_arguments():
            name = "".join(part.capitalize() for part in command.name.split("-"))
            links[name] = {"operationId": command.endpoint, "parameters": on_the_visit}
    return links


def _error_ref() -> dict:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _operation(rule, meta: dict, method: str, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.split(".", 1)[-1],
        "summary": meta["summary"],
        "tags": [meta["tag"]],
        "parameters": [
            {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}} for arg in sorted(rule.arguments)
        ],
        "responses": {},
    }
    if meta["query"] is not None:
        operation["parameters"] += parameters(meta["query"])
    if meta["idempotent"]:
        operation["parameters"].append({
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "A repeat with the same key returns the first response and changes nothing.",
            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{8,128}$"},
        })
    if meta["body"] is not None:
        model = meta["body"]
        _add_model(model, schemas)
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    if meta.get("uploads"):
        operation["requestBody"] = {"required": True, "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in meta["uploads"]}}
    ok: dict[str, Any] = {"description": "OK"}
    response = meta["response"]
    names_a_visit = isinstance(response, type) and issubclass(response, VisitEnvelope)
    if isinstance(response, type) and issubclass(response, BaseModel):
        _add_model(response, schemas)
        response = response.__name__
    if response:
        ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}}
    elif meta.get("files"):
        ok["content"] = {}  # a file only, in one of `files` (an export)
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    for media_type in meta.get("files", ()):
        ok["content"][media_type] = {"schema": {"type": "string", "format": "binary"}}
    if names_a_visit:
        ok["links"] = _visit_links()
    operation["responses"][str(meta["status"])] = ok
    if meta["no_content"]:
        operation["responses"]["204"] = {"description": "Nobody is waiting"}
    for status, description in _ERRORS.items():
        if meta["public"] and status in ("401", "403", "404"):
            continue
        operation["responses"][status] = {"description": description, "content": _error_ref()}
    if not meta["public"]:
        operation["security"] = [{"bearer": []}]
    else:
        operation["security"] = []
    return operation


def openapi_path(rule_path: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule_path)


def build_document() -> dict[str, Any]:
    schemas: dict[str, Any] = dict(RESPONSE_SCHEMAS)
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = current_app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None)
        if meta is None:
            continue  # the completeness test names any such route
        path = openapi_path(rule.rule)[len("/api/v1"):]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, meta, method.lower(), schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SiteFlow API",
            "version": "1",
            "description": "The on-site flow of a mass vaccination site: check-in, consent, injection, "
                           "observation, exit. Every request except this document needs a bearer token "
                           "(or a signed-in staff session with its X-CSRFToken header).",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
