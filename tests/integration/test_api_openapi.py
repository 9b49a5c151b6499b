"""The OpenAPI document: valid, complete, every route documented, every schema resolvable
(the checker every API test applies lives in tests/support/api.py)."""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.support.api import PREFIX, OpenApiChecker, api_rules, iter_refs, openapi_document, openapi_template
from tests.support.factories import gen_checkin, gen_consent, gen_injection


def test_openapi_json_needs_no_token_and_is_a_valid_openapi_3_1_document(client):
    response = client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # openapi_spec_validator: raises on an invalid document


def test_every_api_route_and_method_is_documented(app, client):
    document = openapi_document(client)
    server = document["servers"][0]["url"] if document.get("servers") else ""
    assert server in ("", PREFIX)
    rules = api_rules(app)
    assert len(rules) >= 16  # sites, site, snapshot, visits (2), visit, call-next, 10 actions, openapi
    missing = []
    for rule, method, _endpoint in rules:
        path = openapi_template(rule)[len(server):] if server else openapi_template(rule)
        if method.lower() not in document["paths"].get(path, {}):
            missing.append(f"{method} {rule} (as {path})")
    assert not missing, f"routes not in the OpenAPI paths: {missing}"
    # and nothing documented that does not exist
    routed = {(openapi_template(rule)[len(server):], method.lower()) for rule, method, _ in rules}
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete")}
    assert documented <= routed, documented - routed


# POSTs that record no event, so have no Idempotency-Key: lookups (questions), a new phone code
# (a repeat makes one more code, which ends the one before: the latest answer is the one used),
# and the bookings (an import is all or nothing and refuses a person booked twice; cancel and
# rebook are states a repeat reaches again).
NOT_EVENTS = {"POST /sites/{site}/slips/lookup", "POST /sites/{site}/visits/{visit_id}/ticket-code",
              "POST /sites/{site}/appointments", "POST /sites/{site}/appointments/lookup",
              "POST /sites/{site}/appointments/{code}/cancel", "POST /sites/{site}/appointments/{code}/rebook"}


def test_every_documented_operation_has_errors_security_and_resolvable_refs(client):
    document = openapi_document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if path == "/openapi.json":
                assert operation["security"] == [], where
                continue
            assert operation.get("security") == [{"bearer": []}], where
            for status in ("400", "401", "403", "404", "422"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, where
            if method == "post" and where not in NOT_EVENTS:
                assert "requestBody" in operation, where
                header = [p for p in operation["parameters"] if p["in"] == "header"]
                assert [p["name"] for p in header] == ["Idempotency-Key"], where
    schemas = document["components"]["schemas"]
    for ref in set(iter_refs(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling $ref {ref}"
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)


def test_request_schemas_accept_good_bodies_and_the_checker_catches_bad_ones(client):
    checker = OpenApiChecker(openapi_document(client))
    paths = checker.document["paths"]

    def request_schema(path: str) -> dict:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]

    good = {
        "/sites/{site}/visits": gen_checkin(),
        "/sites/{site}/stations/{station}/call-next": {"desk": "A"},
        "/sites/{site}/visits/{visit_id}/consent": gen_consent("A"),
        "/sites/{site}/visits/{visit_id}/injection": gen_injection("1"),
        "/sites/{site}/visits/{visit_id}/release": {"override_reason": "vomiting child, parent insists"},
        "/sites/{site}/visits/{visit_id}/aefi": {"symptoms": ["rash"], "onset_at": "2026-11-24T09:10:00+08:00",
                                                 "severity": "minor"},
        "/sites/{site}/visits/{visit_id}/aefi-outcome": {"outcome": "transferred"},
        "/sites/{site}/visits/{visit_id}/correct": {"reason": "typo", "state": "left", "corrects_seq": 3},
    }
    for path, body in good.items():
        assert checker.schema_errors(request_schema(path), body) == [], path
    # the documented request schemas forbid unknown fields, as the API does
    bad = dict(gen_checkin(), nickname="x")
    assert checker.schema_errors(request_schema("/sites/{site}/visits"), bad)
    assert checker.schema_errors(request_schema("/sites/{site}/visits"), gen_checkin(dose_number="1"))
    injection = checker.document["components"]["schemas"]["InjectionBody"]["properties"]
    assert {"desk", "product", "lot", "dose_number", "site", "route", "checklist"} <= set(injection)
    # the checker itself: finds the operation, catches a wrong body
    assert checker.template_for(PREFIX + "/sites/demo/snapshot") == "/sites/{site}/snapshot"
    assert checker.template_for(PREFIX + "/sites/demo/visits/abc") == "/sites/{site}/visits/{visit_id}"
    assert checker.template_for(PREFIX + "/sites/demo/visits/abc/aefi-outcome") == \
        "/sites/{site}/visits/{visit_id}/aefi-outcome"
    envelope = {"$ref": "#/components/schemas/VisitEnvelope"}
    assert checker.schema_errors(envelope, {"visit": {"id": 1}})  # a wrong body is caught
    error = {"$ref": "#/components/schemas/Error"}
    assert checker.schema_errors(error, {"error": {"code": "x", "message": "y", "fields": {}}}) == []
    assert checker.schema_errors(error, {"error": {"code": "x", "message": "y"}})
