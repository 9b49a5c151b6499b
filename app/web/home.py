"""The start page after sign-in: who you are and where you can go."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.domain.permissions import role_may

from . import sessions
from .access import requires
from .context import principal, services

bp = Blueprint("home", __name__)


@bp.get("/")
@requires("account.self")
def index():
    caller = principal()
    sites = [site_id for site_id in services().store.site_ids() if caller.covers(site_id)]
    return render_template(
        "home.html", caller=caller, account=sessions.current_account(), sites=sites,
        may=lambda action: role_may(caller.role, action),
    )
