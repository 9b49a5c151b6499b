"""`siteflow visit`: take any station's action on a visit from the server's shell (one command
per entry of the registry, app/flow/commands.py), e.g. to clear up after a tablet broke.

    siteflow visit call-next demo consent --body '{"desk": "A"}'
    siteflow visit release demo 3f2c... --body '{"override_reason": "felt fine, left with family"}'

The body is the same JSON the REST API takes (`--body -` reads it from standard input). The
command acts as the command-line administrator, audited as `admin:cli`; it prints the visit
as a station tablet sees it (personal data masked).
"""
from __future__ import annotations

import json
import sys

import click
from pydantic import ValidationError

from app.domain.errors import DomainError, ValidationFailed
from app.domain.privacy import visit_view
from app.flow.commands import COMMANDS, Command

from .common import CLI_PRINCIPAL, _app, _fail, _services


@click.group()
def visit() -> None:
    """Act on a visit as a station would (the REST API's commands)."""


def _request(command: Command, body: str) -> object:
    text = sys.stdin.read() if body == "-" else body
    try:
        return command.request.model_validate_json(text or "{}")
    except ValidationError as exc:
        fields = {".".join(str(part) for part in error["loc"]) or "body": error["msg"] for error in exc.errors()}
        raise ValidationFailed("The body is not valid for this command.", fields=fields) from None


def _command(command: Command) -> click.Command:
    def run(body: str, key: str | None, **path: str) -> None:
        services = _services(_app())
        try:
            outcome = command.execute(services, CLI_PRINCIPAL, _request(command, body), idempotency_key=key, **path)
        except DomainError as exc:
            _fail(exc)
        if outcome.visit is None:
            click.echo("nothing to do (nobody waiting)")
            return
        view = visit_view(outcome.visit, "masked", now=services.clock.now())
        click.echo(json.dumps({"visit": view, "seq": outcome.event.seq if outcome.event else None},
                              ensure_ascii=False, indent=2, default=str))

    params: list[click.Parameter] = [click.Argument([name]) for name in command.path_arguments()]
    params += [
        click.Option(["--body"], default="{}", show_default=True, help="The request as JSON ('-': standard input)."),
        click.Option(["--key"], default=None, help="An Idempotency-Key: repeating the command with it does it once."),
    ]
    return click.Command(command.name, callback=run, params=params, help=command.summary)


for _entry in COMMANDS.values():
    visit.add_command(_command(_entry))
