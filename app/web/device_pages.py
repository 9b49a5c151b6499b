"""Displays: the TV's pairing page, the supervisor's pairing form and list, the display shell."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.domain.errors import DomainError
from app.domain.vocabulary import STATIONS
from app.flow import pairing
from app.flow.sites import visible_sites

from . import params, ui_strings
from .access import public, requires
from .context import principal, services
from .limits import FAILED_PAIRINGS_PER_CALLER, PAIRING_REQUESTS_PER_ADDRESS, failed, limiter

bp = Blueprint("devices", __name__)


# --- on the TV (no keyboard, no account) --------------------------------------------------------

@bp.get("/pair")
@public
def pair():
    return render_template("pair.html")


@bp.post("/pair/start")
@public
@limiter.limit(PAIRING_REQUESTS_PER_ADDRESS)
def pair_start():
    return jsonify(pairing.start(services())), 201


@bp.post("/pair/collect")
@public
def pair_collect():
    body = request.get_json(silent=True) or {}
    secret = body.get("secret") if isinstance(body.get("secret"), str) else ""
    return jsonify(pairing.collect(services(), secret[:100]))


@bp.get("/display")
@public
def display():
    """The waiting-area screen: a shell whose script connects with the paired credential."""
    return render_template("display.html", site=None, settings=None, strings=ui_strings.display_both())


# --- for supervisors ----------------------------------------------------------------------------

def _sites() -> list[str]:
    return [row.site.id for row in visible_sites(services(), principal())]


@bp.get("/devices")
@requires("devices.manage")
def devices(errors: dict | None = None, status: int = 200):
    """The pairing form and one page of displays (the next from the "More displays" link)."""
    displays, after = pairing.displays(services(), principal(), after=params.parse(params.AfterIdQuery).after,
                                       limit=params.PAGE)
    return render_template(
        "devices.html", displays=displays, sites=_sites(), stations=STATIONS, languages=pairing.LANGUAGES,
        errors=errors or {}, form=request.form,
        next_page=url_for("devices.devices", after=after) if after is not None else None,
    ), status


def _caller_key() -> str:
    return f"pairing:{principal().actor}"


@bp.post("/devices/pair")
@requires("devices.manage")
@limiter.limit(FAILED_PAIRINGS_PER_CALLER, key_func=_caller_key, deduct_when=failed)
def pair_display():
    try:
        pairing.approve(
            services(), principal(), code=request.form.get("code", "")[:20], site_id=request.form.get("site", ""),
            label=request.form.get("label", ""), stations=request.form.getlist("stations"),
            language=request.form.get("language", "both"), remote_addr=request.remote_addr,
        )
    except DomainError as exc:
        errors = dict(exc.fields) or {"code": exc.message}
        return devices(errors=errors, status=exc.status)
    flash(_("Display paired. It shows the waiting area within a few seconds."))
    return redirect(url_for("devices.devices"))


@bp.post("/devices/<int:token_id>/revoke")
@requires("devices.manage")
def revoke_display(token_id: int):
    pairing.revoke_display(services(), principal(), token_id)
    flash(_("Display unpaired: it can no longer connect."))
    return redirect(url_for("devices.devices"))
