"""The one door every HTTP request goes through: who is calling, and may their role do this.

Every view declares its action with `@requires("visit.read")` or `@public`; a view without a
declaration is refused (fail closed) and the authorisation matrix test fails. The action's
rule is the one in app.domain.permissions.RULES; site- and station-level checks follow in
the flow commands with the same table.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from flask import Flask, current_app, g, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect

from app.domain.errors import Forbidden, Unauthorized
from app.domain.permissions import role_may
from app.flow import tokens

from . import sessions
from .context import services

PUBLIC = "public"
# Flask's own endpoint for files under static/.
BUILTIN_PUBLIC = ("static",)
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# What an account with a generated password may still do before choosing its own.
PASSWORD_CHANGE_ENDPOINTS = ("auth.password", "auth.password_submit", "auth.logout")

csrf = CSRFProtect()


def requires(action: str) -> Callable:
    def mark(view: Callable) -> Callable:
        view.siteflow_action = action  # type: ignore[attr-defined]
        return view
    return mark


def public(view: Callable) -> Callable:
    view.siteflow_action = PUBLIC  # type: ignore[attr-defined]
    return view


def action_of(app: Flask, endpoint: str | None) -> str | None:
    if endpoint in BUILTIN_PUBLIC:
        return PUBLIC
    view = app.view_functions.get(endpoint or "")
    return getattr(view, "siteflow_action", None)


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def wants_page() -> bool:
    return request.blueprint not in ("api",) and not request.path.startswith(("/api/", "/socket.io"))


def gate():
    if request.endpoint is None:
        return None  # 404/405: the error handlers answer
    action = action_of(current_app, request.endpoint)
    if action is None:
        raise Forbidden("This endpoint has no access rule.", code="no_access_rule")
    token = _bearer()
    if token is not None:
        g.principal = tokens.authenticate(services(), token)  # bearer requests need no CSRF token
    else:
        g.principal = sessions.current_principal()
        if g.principal is None and action != PUBLIC:
            if wants_page() and request.method == "GET":
                return redirect(url_for("auth.login", next=quote(request.full_path.rstrip("?"))))
            raise Unauthorized("Sign in, or send 'Authorization: Bearer <token>'.", code="missing_token")
        if request.method in UNSAFE_METHODS:
            csrf.protect()  # forms and cookie-authenticated JSON alike
        if g.principal is not None and action != PUBLIC and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            account = sessions.current_account()
            if account is not None and account.must_change_password:
                if wants_page() and request.method == "GET":
                    return redirect(url_for("auth.password", next=request.full_path.rstrip("?")))
                raise Forbidden("Choose your own password first (/account/password).",
                                code="password_change_required")
    if action == PUBLIC:
        return None
    if not role_may(g.principal.role, action):
        # "role_forbidden": this role never may; "forbidden" (from the flow): not at this site or station.
        raise Forbidden(f"The {g.principal.role} role may not do {action}.", code="role_forbidden")
    return None


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in the gate, bearer requests exempt
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session: tablets stay open all day
    csrf.init_app(app)
    app.before_request(gate)
