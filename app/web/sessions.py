"""Staff sessions (Flask-Login): sign in, the tablet's station, sign out after inactivity."""
from __future__ import annotations

from flask import Flask, current_app, g, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from app.domain.permissions import Principal
from app.flow import accounts, audit
from app.flow.accounts import Account

from .context import services

login_manager = LoginManager()


class SessionUser(UserMixin):
    """The signed-in account; its id carries the session version, so a reset ends old sessions."""

    def __init__(self, account: Account):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_version}"


@login_manager.user_loader
def _load(user_id: str) -> SessionUser | None:
    number, _, version = user_id.partition(":")
    if not number.isdigit() or not version.isdigit():
        return None
    account = accounts.get_account(services(), user_id=int(number))
    if account is None or not account.active or account.session_version != int(version):
        return None
    return SessionUser(account)


def sign_in(account: Account, *, station: str | None = None) -> None:
    lang = session.get("lang")
    session.clear()  # a new session id for a new person (no fixation)
    if lang:
        session["lang"] = lang  # the device's language is the device's, not the person's
    login_user(SessionUser(account))
    session["station"] = station if station in account.stations else None
    session["seen"] = services().clock.now().timestamp()


def sign_out() -> None:
    logout_user()
    tablet, lang = session.get("tablet"), session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if tablet:
        session["tablet"] = tablet  # the device stays a tablet of its site for the next person


def current_account() -> Account | None:
    user = current_user
    return user.account if user and user.is_authenticated else None


def current_principal() -> Principal | None:
    """The signed-in staff member as a principal, or None; ends an idle session."""
    account = current_account()
    if account is None:
        return None
    now = services().clock.now().timestamp()
    seen = session.get("seen", 0)
    if now - seen > current_app.config["IDLE_MINUTES"] * 60:
        audit.record(services(), f"{account.role}:{account.username}", "auth.idle_logout",
                     site=account.sites[0] if len(account.sites) == 1 else None, subject=f"user:{account.username}")
        sign_out()
        g.signed_out_idle = True
        return None
    session["seen"] = now
    return account.principal(session.get("station"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    # Set, not defaulted: Flask already has these keys (HttpOnly on, SameSite off).
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="siteflow_session",
        REMEMBER_COOKIE_HTTPONLY=True,
    )
