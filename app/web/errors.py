"""One error handler: every failure becomes {"error": {"code", "message", "fields"}}."""
from __future__ import annotations

import logging
import traceback

from flask import Flask, has_request_context, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.domain.errors import DomainError
from app.domain.site import SiteConfigError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    if _wants_page():
        # Pages get a page: the status and a generic, translated explanation, never request data.
        return render_template("error.html", status=status, code=code), status
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="siteflow"'
    return response


def _wants_page() -> bool:
    if not has_request_context() or request.path.startswith(("/api/", "/socket.io", "/pair/", "/healthz")):
        return False
    return request.accept_mimetypes.accept_html


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(SiteConfigError)
    def _site_config(exc: SiteConfigError):
        return error_response(422, "invalid_site_config", str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "csrf_failed", "The CSRF token is missing or wrong: reload the page. "
                              "(Cookie sessions send it in a form field or the X-CSRFToken header.)")

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
