"""The typed client of the SiteFlow REST API (httpx), for the demo bots, bench/ and tests.

    with SiteFlowClient("http://127.0.0.1:5000", token) as api:
        visit = api.check_in("demo", CheckInBody(...))
        answer = api.run(Action.CONSENT, ConsentBody(...), site="demo", visit_id=visit["id"])
        answer.expect(200)

Commands are sent from the registry (app/flow/commands.py): `run(action, request, ...)` takes
the command's request model and fills in its path. Every call gives an `Answer`, whatever its
status; `expect()` turns an unexpected one into `UnexpectedStatus`. No answer at all (refused,
reset, timed out) raises `Unreachable`. With `transport=httpx.WSGITransport(app=flask_app)` the
same client drives an app in-process.
"""
from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from app.domain.permissions import Action
from app.flow.commands import COMMANDS, Command
from app.flow.requests import CheckInBody, DeskBody

API = "/api/v1"


class ClientError(Exception):
    """What this module raises (besides TypeError for a request of the wrong type)."""


class Unreachable(ClientError):
    """No answer from the server: connection refused or reset, or the timeout ran out."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path  # as in Answer.path


class UnexpectedStatus(ClientError):
    """An answer with another status than the caller expected; the error body is in the message."""

    def __init__(self, answer: Answer, expected: tuple[int, ...]):
        wanted = " or ".join(map(str, expected)) or "2xx"
        body = answer.json if answer.json is not None else answer.text[:500]
        super().__init__(f"{answer.path}: HTTP {answer.status}, expected {wanted}: {body}")
        self.answer = answer


@dataclass(frozen=True)
class Answer:
    status: int
    json: Any  # the body parsed as JSON; None when empty (204) or not JSON
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    path: str  # the path (and query) the request went to

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @property
    def error(self) -> dict[str, Any]:
        """The API's {"code", "message", "fields"} of a refusal; {} for anything else."""
        error = self.json.get("error") if isinstance(self.json, dict) else None
        return error if isinstance(error, dict) else {}

    def expect(self, *statuses: int) -> Answer:
        """This answer if its status is one of `statuses` (any 2xx when none are given), else UnexpectedStatus."""
        if self.status in statuses if statuses else self.ok:
            return self
        raise UnexpectedStatus(self, statuses)


class SiteFlowClient:
    """One server's API with one bearer token. A context manager: close() ends its connections."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 10.0,
                 limits: httpx.Limits | None = None, transport: httpx.BaseTransport | None = None):
        """`limits`: of the connections of the default transport (httpx's defaults: up to 100, 20 kept
        open); `transport`: another one, e.g. httpx.WSGITransport(app=flask_app)."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if transport is None:
            transport = httpx.HTTPTransport(verify=_tls(), limits=limits or httpx.Limits(
                max_connections=100, max_keepalive_connections=20))
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SiteFlowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- any request --------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Answer:
        """`method` on a path of the server (not only the API's: pages, /healthz), read to the end."""
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as error:
            message = f"{method} {self.base_url}{path}: no answer ({type(error).__name__}: {error})"
            raise Unreachable(message, path) from error
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Answer(response.status_code, body, response.headers, response.content,
                      response.request.url.raw_path.decode("ascii"))

    def get(self, path: str, **params: Any) -> Answer:
        """GET a path under /api/v1 with query parameters."""
        return self.request("GET", API + path, params=params or None)

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Answer:
        """POST a JSON body ({} when None) to a path under /api/v1."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return self.request("POST", API + path, json=body if body is not None else {}, headers=headers)

    def follow_pages(self, path: str, key: str, **params: Any) -> Iterator[Any]:
        """The items under `key` of a paged listing (visits, users, tokens, audit), page after page
        by its `next` links to the end; UnexpectedStatus if a page is refused."""
        page = self.get(path, **params).expect(200).json
        yield from page[key]
        while page.get("next"):
            page = self.request("GET", page["next"]).expect(200).json
            yield from page[key]

    # --- commands (app/flow/commands.py) ------------------------------------------------------

    def run(self, action: Action, request: BaseModel, *, site: str, visit_id: str | None = None,
            station: str | None = None, idempotency_key: str | None = None) -> Answer:
        """Send a command with its request model; TypeError for another model or a missing path argument."""
        command = COMMANDS[action]
        if not isinstance(request, command.request):
            raise TypeError(f"{action} takes {command.request.__name__}, not {type(request).__name__}")
        given = {"site": site, "visit_id": visit_id, "station": station}
        path = command.filled_path(**{name: quote(value, safe="") for name, value in given.items() if value is not None})
        return self.post(path, request.model_dump(mode="json", by_alias=True), idempotency_key=idempotency_key)

    def perform(self, action: Action, request: BaseModel, *, site: str, visit_id: str | None = None,
                station: str | None = None, idempotency_key: str | None = None) -> dict[str, Any] | None:
        """Run a command that must succeed: the visit it answered with (None: nothing to do, 204);
        UnexpectedStatus for a refusal."""
        command = COMMANDS[action]
        answer = self.run(action, request, site=site, visit_id=visit_id, station=station,
                          idempotency_key=idempotency_key).expect(*_successes(command))
        return answer.json["visit"] if answer.json is not None else None

    def check_in(self, site: str, request: CheckInBody) -> dict[str, Any]:
        """The visit checked in (a check-in always answers 201 with it)."""
        return self.perform(Action.CHECK_IN, request, site=site)  # type: ignore[return-value]

    def call_next(self, site: str, station: str, desk: str) -> dict[str, Any] | None:
        """The visit called to `desk`, or None when nobody was waiting."""
        return self.perform(Action.CALL_NEXT, DeskBody(desk=desk), site=site, station=station)


def _successes(command: Command) -> tuple[int, ...]:
    return (command.status, 204) if command.no_content else (command.status,)


@cache
def _tls() -> ssl.SSLContext:
    # One context for every client: building one reads the CA store (about 20 ms).
    return ssl.create_default_context()
