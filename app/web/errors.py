"""One error handler: every failure becomes {"error": {"code", "message", "fields"}}."""
from __future__ import annotations

import logging
import traceback

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from app.domain.errors import DomainError
from app.domain.site import SiteConfigError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="siteflow"'
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(SiteConfigError)
    def _site_config(exc: SiteConfigError):
        return error_response(422, "invalid_site_config", str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Log the type and the frames, never the message or the request: database errors
        # quote the parameters, which may be personal data.
        frames = traceback.extract_tb(exc.__traceback__)
        where = " <- ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in reversed(frames))
        log.error("unhandled %s at %s", type(exc).__name__, where)
        return error_response(500, "internal_error", "Something went wrong on the server; nothing was recorded.")
