"""What the commands share: the app they run against, the actor they act as, how they fail."""
from __future__ import annotations

import click
from flask import Flask

from app import create_app
from app.domain.errors import DomainError
from app.domain.permissions import Principal
from app.flow.services import Services, services_of

CLI_ACTOR = "cli"
# Whoever runs the command line on the server may read every report (as the audit trail records).
CLI_PRINCIPAL = Principal(name="cli", role="admin")


def _app(**config) -> Flask:
    return create_app(config or None)


def _services(app: Flask) -> Services:
    return services_of(app)


def _fail(exc: Exception) -> None:
    message = exc.message if isinstance(exc, DomainError) else str(exc)
    if isinstance(exc, DomainError) and exc.fields:
        message += "\n" + "\n".join(f"  {key}: {value}" for key, value in exc.fields.items())
    raise click.ClickException(message)
