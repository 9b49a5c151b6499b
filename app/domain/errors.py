"""Errors raised by the domain rules. The web layer maps each class to one HTTP status."""
from __future__ import annotations


class DomainError(Exception):
    """Base class: a rule refused the request. `code` is stable and machine-readable."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class BadRequest(DomainError):
    """The request itself is malformed (a header out of its syntax), whatever it asks (400)."""

    status = 400
    code = "bad_request"


class ValidationFailed(DomainError):
    """The input is well-formed but breaks a rule about one or more fields (422)."""

    status = 422
    code = "validation_failed"


class Conflict(DomainError):
    """The request is valid but the current state does not allow it (409)."""

    status = 409
    code = "conflict"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
