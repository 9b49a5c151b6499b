"""Access to the app's services and the caller from inside a request."""
from __future__ import annotations

from flask import current_app, g

from app.domain.errors import Unauthorized
from app.domain.permissions import Principal
from app.flow.services import Services, services_of


def services() -> Services:
    return services_of(current_app)


def principal() -> Principal:
    caller = g.get("principal")
    if caller is None:
        raise Unauthorized("Send 'Authorization: Bearer <token>'.", code="missing_token")
    return caller
