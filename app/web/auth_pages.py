"""Sign in (password, or username + PIN on a station tablet), sign out, change password."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Blueprint, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from app.domain.errors import DomainError, Unauthorized, ValidationFailed
from app.flow import accounts, audit, staff_sessions
from app.flow.sites import visible_sites
from app.flow.staff_sessions import StaffSession

from . import labels, sessions
from .access import public, requires
from .context import principal, services
from .limits import sign_in_limits

bp = Blueprint("auth", __name__)


def _next_url() -> str:
    target = unquote(request.values.get("next", "") or "")
    parts = urlsplit(target)
    # Only paths on this site: no scheme, no host, no protocol-relative //evil.example.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


def _login_page(status: int = 200, error: str | None = None, pin_error: str | None = None):
    tablet = session.get("tablet")
    return render_template(
        "login.html", error=error, pin_error=pin_error, tablet_site=tablet, next=request.values.get("next", ""),
        idle=g.get("signed_out_idle", False) or request.args.get("idle") == "1",
    ), status


@bp.get("/login")
@public
def login():
    if g.get("principal") is not None:
        return redirect(_next_url())
    return _login_page()


@bp.post("/login")
@public
@sign_in_limits
def login_submit():
    try:
        account = accounts.sign_in(services(), request.form.get("username", ""), request.form.get("password", ""),
                                   remote_addr=request.remote_addr)
    except Unauthorized:
        return _login_page(401, error=_("Wrong username or password."))
    sessions.sign_in(account, station=request.form.get("station") or None)
    if account.role == "station" or (account.role == "site_supervisor" and len(account.sites) == 1):
        session["tablet"] = account.sites[0]  # this device may now switch staff with a PIN
    if account.must_change_password:
        return redirect(url_for("auth.password", next=_next_url()))
    return redirect(_next_url())


@bp.post("/login/pin")
@public
@sign_in_limits
def login_pin():
    site = session.get("tablet")
    if not site:
        return _login_page(401, pin_error=_("PIN sign-in works on a station tablet after a password sign-in."))
    try:
        account = accounts.sign_in_with_pin(services(), request.form.get("username", ""), request.form.get("pin", ""),
                                            site=site, remote_addr=request.remote_addr)
    except Unauthorized:
        return _login_page(401, pin_error=_("Wrong username or PIN. After 5 wrong PINs, sign in with the password."))
    station = request.form.get("station") or session.get("station")
    sessions.sign_in(account, station=station)
    session["tablet"] = site
    return redirect(_next_url())


@bp.errorhandler(429)
def _too_many(_error):
    """A sign-in refused by a limit: the sign-in page says when to try again."""
    minutes = g.get("retry_after_minutes", 1)
    message = ngettext("Too many wrong attempts. Try again in %(num)s minute.",
                       "Too many wrong attempts. Try again in %(num)s minutes.", minutes)
    if request.endpoint == "auth.login_pin":
        return _login_page(429, pin_error=message)
    return _login_page(429, error=message)


@bp.post("/logout")
@requires("account.self")
def logout():
    caller = principal()
    if caller.user_id is not None:
        audit.record(services(), caller.actor, "auth.logout", subject=f"user:{caller.name}")
    sessions.sign_out()
    return redirect(url_for("auth.login"))


def _own_session() -> StaffSession:
    """The signed-in person's session; a bearer token has no password and no sessions (401)."""
    here = sessions.current_session()
    if here is None:
        raise Unauthorized("Sign in with your account first.", code="not_signed_in")
    return here


@bp.get("/account/password")
@requires("account.password")
def password():
    return render_template("password.html", errors={}, next=request.args.get("next", ""))


@bp.post("/account/password")
@requires("account.password")
def password_submit():
    here = _own_session()
    account = here.account
    if request.form.get("new_password", "") != request.form.get("repeat_password", ""):
        errors = {"repeat_password": _("The two new passwords differ.")}
        return render_template("password.html", errors=errors, next=request.form.get("next", "")), 422
    try:
        accounts.change_password(services(), account, current=request.form.get("current_password", ""),
                                 new=request.form.get("new_password", ""), session_id=here.id)
    except DomainError as exc:
        return render_template("password.html", errors=exc.fields, next=request.form.get("next", "")), 422
    return redirect(_next_url())


@bp.get("/account/sessions")
@requires("account.self")
def my_sessions():
    """The account's open sessions: device, address, since, last seen; any other one can be ended."""
    here = _own_session()
    listed = staff_sessions.open_sessions(services(), here.account.id, idle=sessions.idle_limit())
    zone = labels.zone_of([row.site for row in visible_sites(services(), principal())])
    return render_template("sessions.html", sessions=listed, current=here.id, zone=zone)


@bp.post("/account/sessions/<int:session_id>/end")
@requires("account.self")
def end_my_session(session_id: int):
    _own_session()
    staff_sessions.end_own(services(), principal(), session_id)
    return redirect(url_for("auth.my_sessions"))


@bp.post("/account/station")
@requires("account.self")
def choose_station():
    """Station staff with several stations: which one this tablet is at now (JSON or form)."""
    account = sessions.current_account()
    body = request.get_json(silent=True) if request.is_json else request.form
    station = (body or {}).get("station")
    if account is None or account.role != "station":
        raise ValidationFailed("Only signed-in station staff work at a station.", fields={"station": "not for you"})
    if station not in account.stations:
        raise ValidationFailed("Not one of your stations.",
                               fields={"station": f"must be one of {', '.join(account.stations)}"})
    session["station"] = station
    return jsonify({"station": station})
