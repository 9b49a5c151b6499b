"""Staff sessions in the browser: the signed cookie carries only the key of a session the
server holds (app/flow/staff_sessions.py), so signing out, a password change or an admin ends
it for good; plus the device's own choices (language, tablet site, station)."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, g, has_request_context, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from app.domain.permissions import Principal
from app.flow import staff_sessions
from app.flow.accounts import Account
from app.flow.staff_sessions import StaffSession

from .context import services

login_manager = LoginManager()
# The station a station page is for: its API requests say so in this header (its live
# connection in its Socket.IO auth), so two tabs at two stations each work at their own.
STATION_HEADER = "X-SiteFlow-Station"


class SessionUser(UserMixin):
    """The signed-in account, in its server-side session; its id is the session's key."""

    def __init__(self, staff_session: StaffSession, key: str):
        self.staff_session = staff_session
        self.key = key

    @property
    def account(self) -> Account:
        return self.staff_session.account

    def get_id(self) -> str:
        return self.key


def idle_limit() -> timedelta:
    return timedelta(minutes=current_app.config["IDLE_MINUTES"])


@login_manager.user_loader
def _load(key: str) -> SessionUser | None:
    found, why = staff_sessions.resume(services(), key, idle=idle_limit())
    if found is None:
        g.signed_out_idle = why == "idle"
        return None
    return SessionUser(found, key)


def sign_in(account: Account, *, station: str | None = None) -> None:
    lang = session.get("lang")
    session.clear()  # a new cookie for a new person (no fixation)
    if lang:
        session["lang"] = lang  # the device's language is the device's, not the person's
    key = staff_sessions.start(services(), account, lifetime=timedelta(hours=current_app.config["SESSION_HOURS"]),
                               user_agent=request.user_agent.string, remote_addr=request.remote_addr)
    found, _ = staff_sessions.resume(services(), key, idle=idle_limit())
    login_user(SessionUser(found, key))
    session["station"] = station if station in account.stations else None


def sign_out(reason: str = "logout") -> None:
    user = current_user
    if user and user.is_authenticated:
        staff_sessions.end(services(), user.staff_session.id, reason=reason)
    logout_user()
    tablet, lang = session.get("tablet"), session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if tablet:
        session["tablet"] = tablet  # the device stays a tablet of its site for the next person


def current_session() -> StaffSession | None:
    user = current_user
    return user.staff_session if user and user.is_authenticated else None


def current_account() -> Account | None:
    found = current_session()
    return found.account if found else None


def current_principal(station: str | None = None) -> Principal | None:
    """The signed-in staff member as a principal in their session, or None. A station account
    works at the station the request is for (`station`, else the page's header) when it is one
    of the account's own; otherwise at the session's (chosen at sign-in, or its first)."""
    found = current_session()
    if found is None:
        return None
    if station is None and has_request_context():
        station = request.headers.get(STATION_HEADER)
    if station not in found.account.stations:
        station = session.get("station")
    return found.account.principal(station, session_id=found.id)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    # Set, not defaulted: Flask already has these keys (HttpOnly on, SameSite off).
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="siteflow_session",
        REMEMBER_COOKIE_HTTPONLY=True,
    )
