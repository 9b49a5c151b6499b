"""The API tests' shared part: the OpenAPI checker and the helpers that drive the API.

`OpenApiChecker.check(response)` finds the documented operation of a test-client response
(path template + method), requires its status to be documented, and validates its JSON body
against the documented schema (Draft 2020-12, "#/components/schemas/..." resolved against the
document). The `japi` fixture (registered by tests/conftest.py) is the conftest `api` client
with that check applied to every response, so every response the API tests get is checked
against the contract. The helpers take their paths from the command registry.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.domain.permissions import Action
from app.flow.commands import COMMANDS, command_named
from app.flow.sites import load_site_file
from tests.support.factories import gen_checkin, gen_consent, gen_injection

PREFIX = "/api/v1"
DEMO_TOML = Path(__file__).resolve().parents[2] / "sites" / "demo.toml"
_DOCUMENT: dict[str, Any] | None = None


# --- the checker ------------------------------------------------------------------------------

class OpenApiChecker:
    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.server = document["servers"][0]["url"] if document.get("servers") else ""
        self._templates = [(path, path.strip("/").split("/")) for path in document["paths"]]

    # which documented operation answers a concrete request
    def template_for(self, full_path: str) -> str:
        assert full_path.startswith(self.server + "/"), f"{full_path} is not under the server URL {self.server}"
        parts = full_path[len(self.server):].strip("/").split("/")
        matches = []
        for template, segments in self._templates:
            if len(segments) == len(parts) and all(
                seg == part or (seg.startswith("{") and seg.endswith("}") and part)
                for seg, part in zip(segments, parts, strict=True)
            ):
                literal = sum(1 for seg in segments if not seg.startswith("{"))
                matches.append((literal, template))
        assert matches, f"no documented path matches {full_path}"
        return max(matches)[1]

    def operation(self, method: str, full_path: str) -> tuple[str, dict[str, Any]]:
        template = self.template_for(full_path)
        operation = self.document["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        return template, operation

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        # The document's components ride along in the root, so "#/components/schemas/X" resolves.
        root = dict(schema, components=self.document.get("components", {}))
        validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        ]

    def check(self, response, request_json: Any = None) -> tuple[str, str, str]:
        """Check one response against the document; returns (method, path template, status)."""
        method = response.request.method
        path = response.request.path
        template, operation = self.operation(method, path)
        status = str(response.status_code)
        where = f"{method} {template} -> {status}"
        assert status in operation["responses"], (
            f"{where} is not a documented response (documented: {sorted(operation['responses'])}); "
            f"body: {response.get_data(as_text=True)[:500]}"
        )
        documented = operation["responses"][status]
        content = documented.get("content")
        if not content:
            assert response.get_data() == b"", f"{where}: documented without a body, but one was sent"
            return method, template, status
        if response.mimetype != "application/json" and "application/json" not in content:
            # A file (an export): one of the documented media types, with a body.
            assert response.mimetype in content, f"{where}: content type {response.mimetype} not in {sorted(content)}"
            return method, template, status
        assert response.mimetype == "application/json", f"{where}: content type {response.mimetype}"
        body = response.get_json(silent=True)
        assert body is not None, f"{where}: the body is not JSON: {response.get_data(as_text=True)[:200]}"
        errors = self.schema_errors(content["application/json"]["schema"], body)
        assert not errors, f"{where}: the body does not match the documented schema:\n" + "\n".join(errors)
        if request_json is not None and response.status_code < 300 and "requestBody" in operation:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            errors = self.schema_errors(schema, request_json)
            assert not errors, f"{where}: the accepted request body breaks the documented request schema:\n" + "\n".join(errors)
        return method, template, status


def openapi_document(client) -> dict[str, Any]:
    global _DOCUMENT
    if _DOCUMENT is None:
        response = client.get(PREFIX + "/openapi.json")
        assert response.status_code == 200, response.get_data(as_text=True)
        _DOCUMENT = response.get_json()
    return _DOCUMENT


class CheckedApi:
    """The conftest `Api` client; every response is checked against the OpenAPI document."""

    def __init__(self, api, checker: OpenApiChecker):
        self.api = api
        self.client = api.client
        self.checker = checker
        self.seen: set[tuple[str, str, str]] = set()  # (method, path template, status) checked so far

    def get(self, path: str, *, token: str | None = None, check: bool = True, **params: Any):
        response = self.api.get(path, token=token, **params)
        if check:
            self.seen.add(self.checker.check(response))
        return response

    def post(self, path: str, body: Any = None, *, token: str | None = None, key: str | None = None,
             raw: str | None = None, check: bool = True):
        response = self.api.post(path, body, token=token, key=key, raw=raw)
        if check:
            self.seen.add(self.checker.check(response, request_json=body if raw is None else None))
        return response

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, check: bool = True, **kw):
        response = self.client.open(PREFIX + path, method=method, headers=headers or {}, **kw)
        if check:
            self.seen.add(self.checker.check(response))
        return response


@pytest.fixture
def checker(client) -> OpenApiChecker:
    return OpenApiChecker(openapi_document(client))


@pytest.fixture
def japi(api, checker) -> CheckedApi:
    return CheckedApi(api, checker)


# --- helpers the API tests share ------------------------------------------------------------

def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict[str, Any]:
    """The uniform error body {"error": {"code", "message", "fields"}} with the expected status."""
    assert response.status_code == status, (status, response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert field in error["fields"], error
    return error


def load_site_variant(services, tmp_path: Path, site_id: str, *, seats: int | None = None,
                      prefix: str | None = None):
    """A copy of sites/demo.toml under another id (and optionally fewer seats), loaded."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    text, count = re.subn(r'(?m)^id = "demo"$', f'id = "{site_id}"', text)
    assert count == 1
    if seats is not None:
        text, count = re.subn(r"(?m)^seats = \d+", f"seats = {seats}", text)
        assert count == 1
    if prefix is not None:
        text, count = re.subn(r'(?m)^ticket_prefix = "A"$', f'ticket_prefix = "{prefix}"', text)
        assert count == 1
    path = tmp_path / f"{site_id}.toml"
    path.write_text(text, encoding="utf-8")
    site, status = load_site_file(services, path)
    assert status == "created"
    return site


def check_in(japi, site: str = "demo", *, token: str | None = None, key: str | None = None, **overrides) -> dict:
    response = japi.post(COMMANDS[Action.CHECK_IN].filled_path(site=site), gen_checkin(**overrides), token=token,
                         key=key)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["visit"]


def call_next(japi, station: str, desk: str, site: str = "demo", *, token: str | None = None) -> dict:
    response = japi.post(COMMANDS[Action.CALL_NEXT].filled_path(site=site, station=station), {"desk": desk},
                         token=token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["visit"]


def act(japi, visit_id: str, action: str, body: dict | None = None, site: str = "demo", *,
        token: str | None = None, key: str | None = None, expect: int = 200):
    """Run the command named `action` (as in its path: "aefi-outcome") on a visit; its response."""
    path = command_named(action).filled_path(site=site, visit_id=visit_id)
    response = japi.post(path, body or {}, token=token, key=key)
    assert response.status_code == expect, (action, response.status_code, response.get_json())
    return response


def to_injection_queue(japi, site: str = "demo", *, consent_desk: str = "A", **overrides) -> str:
    """Check someone in and take them through consent: they wait at injection. Needs empty queues."""
    visit = check_in(japi, site, **overrides)
    called = call_next(japi, "consent", consent_desk, site)
    assert called["id"] == visit["id"], "another person was waiting at consent"
    act(japi, visit["id"], "consent", gen_consent(consent_desk), site)
    return visit["id"]


def to_observation(japi, site: str = "demo", *, desk: str = "1", consent: dict | None = None, **overrides) -> str:
    """Check someone in, consent, inject at booth `desk`: they are observing."""
    visit = check_in(japi, site, **overrides)
    assert call_next(japi, "consent", "A", site)["id"] == visit["id"], "another person was waiting at consent"
    act(japi, visit["id"], "consent", consent or gen_consent("A"), site)
    assert call_next(japi, "injection", desk, site)["id"] == visit["id"], "another person was waiting at injection"
    act(japi, visit["id"], "injection", gen_injection(desk), site)
    return visit["id"]


def snapshot_seq(japi, site: str = "demo") -> int:
    response = japi.get(f"/sites/{site}/snapshot")
    assert response.status_code == 200
    return response.get_json()["seq"]


def iter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def api_rules(app) -> list[tuple[str, str, str]]:
    """(rule, method, endpoint) of every route under /api/v1, HEAD/OPTIONS left out."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule == PREFIX or rule.rule.startswith(PREFIX + "/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.rule, method, rule.endpoint))
    return found


def openapi_template(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# --- the document itself -----------------------------------------------------------------------
