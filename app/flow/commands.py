"""Every action on a visit, defined once: its request and response models, who may do it, what
runs it, and where it lives on the REST API.

Everything else is derived from `COMMANDS`: the REST routes and their OpenAPI entries
(app/web/api.py), the typed client the demo bots, bench and tests drive the API with
(app/client.py), and the `siteflow visit` commands (app/cli/visits.py). Adding an action
touches the domain rule (app/domain/rules.py), one entry here (with its flow function in
app/flow/visits.py), and its test.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.domain.permissions import RULES, Action, Principal, Rule

from . import requests, responses
from . import visits as flow
from .services import Services
from .visits import Outcome

# What a path names, and the flow argument it becomes.
PATH_ARGUMENTS = {"site": "site_id", "station": "station", "visit_id": "visit_id"}


@dataclass(frozen=True)
class Command:
    action: Action
    request: type[requests.Body]
    run: Callable[..., Outcome]
    summary: str
    # Under /api/v1, with {site}, {station} and {visit_id} filled in.
    path: str
    status: int = 200
    # 204 when there was nothing to do (call-next with nobody waiting).
    no_content: bool = False
    # What it answers: the visit after it, as the caller may see it.
    response: type[BaseModel] = responses.VisitEnvelope

    @property
    def rule(self) -> Rule:
        """The roles and stations that may run it (app/domain/permissions.py)."""
        return RULES[self.action]

    @property
    def name(self) -> str:
        return name_of(self.action)

    @property
    def endpoint(self) -> str:
        """Its route's endpoint and OpenAPI operationId: visit.aefi_outcome -> visit_aefi_outcome."""
        return self.action.value.replace(".", "_")

    def path_arguments(self) -> tuple[str, ...]:
        return tuple(name for name in PATH_ARGUMENTS if "{" + name + "}" in self.path)

    def filled_path(self, **values: str) -> str:
        """The path (under /api/v1) with the values of its arguments, as given (quote them if need be);
        TypeError when one is missing or the path has no such argument."""
        if set(values) != set(self.path_arguments()):
            raise TypeError(f"the path of {self.name} takes {', '.join(self.path_arguments())}, "
                            f"not {', '.join(sorted(values)) or 'nothing'}")
        return self.path.format(**values)

    def execute(
        self, services: Services, principal: Principal, request: requests.Body, *, idempotency_key: str | None = None,
        **path: str,
    ) -> Outcome:
        """Run the command with a validated request and the values its path names."""
        arguments: dict[str, Any] = {PATH_ARGUMENTS[name]: value for name, value in path.items()}
        return self.run(services, principal, idempotency_key=idempotency_key, **arguments, **request.model_dump())


def name_of(action: Action) -> str:
    """An action's name in paths and on the command line: visit.aefi_outcome -> aefi-outcome."""
    return action.value.removeprefix("visit.").replace("_", "-")


def _on_visit(action: Action, request: type[requests.Body], run: Callable[..., Outcome], summary: str) -> Command:
    return Command(action, request, run, summary, path=f"/sites/{{site}}/visits/{{visit_id}}/{name_of(action)}")


COMMANDS: dict[Action, Command] = {command.action: command for command in (
    Command(Action.CHECK_IN, requests.CheckInBody, flow.check_in,
            "Check a person in; a green health code gets a ticket (and a phone ticket's address)",
            path="/sites/{site}/visits", status=201, response=responses.CheckInEnvelope),
    Command(Action.CALL_NEXT, requests.DeskBody, flow.call_next,
            "Call the next waiting person to a desk (204: nobody waiting; 409: blocked)",
            path="/sites/{site}/stations/{station}/call-next", no_content=True),
    _on_visit(Action.START, requests.DeskBody, flow.start, "The called person arrived at the desk"),
    _on_visit(Action.RECALL, requests.EmptyBody, flow.recall, "Announce the call again"),
    _on_visit(Action.NO_SHOW, requests.EmptyBody, flow.no_show,
              "Called person did not come: back of the queue, or out"),
    _on_visit(Action.CANCEL, requests.CancelBody, flow.cancel, "The person leaves the flow before vaccination"),
    _on_visit(Action.CONSENT, requests.ConsentBody, flow.record_consent, "Record screening answers and consent"),
    _on_visit(Action.INJECTION, requests.InjectionBody, flow.record_injection,
              "Record the injection; starts observation"),
    _on_visit(Action.RELEASE, requests.ReleaseBody, flow.release,
              "Release from observation (early only by a supervisor)"),
    _on_visit(Action.AEFI, requests.AefiBody, flow.report_aefi, "Report an adverse event following immunisation"),
    _on_visit(Action.AEFI_OUTCOME, requests.AefiOutcomeBody, flow.record_aefi_outcome,
              "Record the outcome of an adverse event"),
    _on_visit(Action.CORRECT, requests.CorrectionBody, flow.correct, "A supervisor's correction, with its reason"),
    _on_visit(Action.UNDO, requests.UndoBody, flow.undo, "Undo this desk's last action within a few seconds"),
)}


def command_named(name: str) -> Command:
    """The command with this path or command-line name (KeyError if none)."""
    for command in COMMANDS.values():
        if command.name == name:
            return command
    raise KeyError(name)
