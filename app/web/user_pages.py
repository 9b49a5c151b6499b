"""Staff accounts for admins: list, add, disable or enable, reset a password, end sessions."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.domain.errors import DomainError
from app.domain.vocabulary import STATIONS
from app.flow import accounts, staff_sessions
from app.flow import sites as site_flow

from . import params
from .access import requires
from .context import principal, services

bp = Blueprint("users", __name__)

# The roles an admin can give here, the least privileged first: the form's default.
ROLES_OFFERED = ("station", "site_supervisor", "city_supervisor", "admin")


def _page(errors: dict | None = None, status: int = 200, shown: tuple[str, str] | None = None):
    """The form and one page of accounts (the next from the "More accounts" link)."""
    rows, after = accounts.accounts_page(services(), principal(), after=params.parse(params.AfterIdQuery).after,
                                         limit=params.PAGE)
    return render_template(
        "users.html", accounts=rows, roles=ROLES_OFFERED,
        sites=site_flow.site_ids(services()), stations=STATIONS, errors=errors or {}, form=request.form, shown=shown,
        next_page=url_for("users.users", after=after) if after is not None else None,
    ), status


@bp.get("/users")
@requires("users.manage")
def users():
    return _page()


@bp.post("/users")
@requires("users.manage")
def add_user():
    form = request.form
    try:
        account, password = accounts.create_user(
            services(), actor=principal().actor, username=form.get("username", ""),
            display_name=form.get("display_name", "") or form.get("username", ""), role=form.get("role", ""),
            sites=form.getlist("sites"), stations=form.getlist("stations") if form.get("role") == "station" else (),
            pin=form.get("pin") or None,
        )
    except DomainError as exc:
        return _page(errors=_explained(exc), status=exc.status)
    return _page(shown=(account.username, password), status=201)


def _explained(exc: DomainError) -> dict[str, str]:
    """The form's problems in the page's language: each field's name and what it needs."""
    if exc.code == "username_taken":
        return {"username": _("Username: this username is taken.")}
    needs = {
        "username": _("Username: 2-64 characters: a-z, 0-9, dot, dash, underscore; starting with a letter or digit."),
        "display_name": _("Name shown: at most 120 characters, none of them invisible or control characters."),
        "role": _("Role: choose one of the list."),
        "sites": _("Sites: station staff work at exactly one site, site supervisors at one or more; "
                   "city supervisors and administrators see every site and get none."),
        "stations": _("Stations: station staff need one or more stations; other roles have none."),
        "pin": _("PIN: 4 to 8 digits."),
    }
    return {field: needs.get(field, f"{field}: {message}") for field, message in exc.fields.items()} or {
        "username": exc.message}


@bp.post("/users/<username>/active")
@requires("users.manage")
def set_active(username: str):
    active = request.form.get("active") == "1"
    if username == principal().name and not active:
        flash(_("You cannot disable your own account."))
        return redirect(url_for("users.users"))
    accounts.set_active(services(), username, active=active, actor=principal().actor)
    flash(_("Account enabled.") if active else _("Account disabled; its sessions have ended."))
    return redirect(url_for("users.users"))


@bp.post("/users/<username>/reset-password")
@requires("users.manage")
def reset_password(username: str):
    password = accounts.reset_password(services(), username, actor=principal().actor)
    return _page(shown=(username, password))


@bp.post("/users/<username>/sessions/end")
@requires("users.manage")
def end_sessions(username: str):
    """Sign a user out everywhere (a lost tablet, a colleague who left); their live screens close."""
    count = staff_sessions.end_all_of(services(), username, actor=principal().actor)
    flash(_("%(count)s sessions of %(user)s ended.", count=count, user=username))
    return redirect(url_for("users.users"))
