"""Socket.IO event handlers: authenticate the connection, join rooms, resync.

Client -> server: connect with auth {"token"} (or a signed-in page's cookie and {"station"}: the
station the page is for, if it is one of the account's), `join` {"site", "view":
display|station|supervisor|city, "station"}, `resync` {}. Server -> client: `snapshot`, `delta`,
`call`, `ready`, `site` (city room), and `error` {"code", "message"} right before an out-of-scope
client is disconnected.

A person's phone connects with auth {"ticket": <code>} (the public page /t/<code>): it is put in
its visit's ticket room at once and gets `ticket` (its own view, app/domain/phone_ticket.py) then
and on every change; `resync` sends it again. It may join nothing: its principal has no role of
the permission table, so every `join` is refused and the socket closed. Wrong codes count
against the caller's address like the page's (app/web/limits.py).
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, disconnect, emit, join_room

from app.domain.errors import DomainError, ValidationFailed
from app.domain.permissions import Principal, authorize
from app.flow import audit, phone_tickets, tokens
from app.flow import sites as site_flow
from app.flow.services import services_of
from app.web.limits import ticket_guesses
from app.web.sessions import current_principal

from . import rooms, socketio

# The session of a Socket.IO connection: its principal (which names the credential it was
# opened with: a token, or a staff session) and the views it joined. app/live/credentials.py
# disconnects the connections whose credential has ended.
_sessions: dict[str, dict[str, Any]] = {}


def connections() -> dict[str, Principal]:
    """sid -> principal of this process's connections."""
    return {sid: session["principal"] for sid, session in list(_sessions.items())}


def _services():
    return services_of(current_app)


def _hub():
    return current_app.extensions["siteflow_live"]


# What each client event needs (the authorisation matrix test checks every registered event
# is here): connect needs a token or a staff session; join needs the view's action; resync
# only repeats the joins already granted.
EVENT_ACTIONS = {
    "connect": "authenticated",
    "disconnect": None,
    "join": {view: f"live.{view}" for view in rooms.VIEWS},
    "resync": "joined",
}


def _connect_ticket(code: Any) -> None:
    """A phone following its own ticket: in its visit's room, and nowhere else, ever."""
    message = "No such ticket."
    if not ticket_guesses.allowed():
        raise ConnectionRefusedError(message, {"code": "not_found", "message": message})
    try:
        holder = phone_tickets.holder(_services(), code if isinstance(code, str) else "")
    except DomainError:
        ticket_guesses.failed()
        raise ConnectionRefusedError(message, {"code": "not_found", "message": message}) from None
    _sessions[request.sid] = {"principal": holder.principal, "joined": [], "ticket": holder}
    join_room(rooms.ticket_room(holder.site_id, holder.visit_id))
    _hub().start()
    emit("ticket", _hub().follow(holder.site_id, holder.visit_id))


@socketio.on("connect")
def on_connect(auth: Any = None):
    auth = auth if isinstance(auth, dict) else {}
    if "ticket" in auth:
        _connect_ticket(auth["ticket"])
        return
    token = auth.get("token")
    if isinstance(token, str) and token:
        try:
            principal = tokens.authenticate(_services(), token)
        except DomainError as exc:
            # (message, data): the client's connect_error carries the data with the code.
            raise ConnectionRefusedError(exc.message, {"code": exc.code, "message": exc.message}) from None
    else:
        # A signed-in staff page (same-origin cookie), at the station the page is for.
        station = auth.get("station")
        principal = current_principal(station if isinstance(station, str) else None)
        if principal is None:
            message = 'Sign in, or send {"token": "<bearer token>"} as auth.'
            raise ConnectionRefusedError(message, {"code": "missing_token", "message": message})
    _sessions[request.sid] = {"principal": principal, "joined": []}
    _hub().start()


@socketio.on("disconnect")
def on_disconnect(*_reason: Any) -> None:
    session = _sessions.pop(request.sid, None)
    if session is not None and session.get("ticket") is not None:
        _hub().unfollow(session["ticket"].site_id, session["ticket"].visit_id)


def _refuse(exc: DomainError) -> dict[str, Any]:
    emit("error", {"code": exc.code, "message": exc.message, "fields": exc.fields})
    disconnect()
    return {"ok": False, "error": {"code": exc.code, "message": exc.message}}


def _parse_join(data: Any) -> tuple[str | None, str, str | None]:
    if not isinstance(data, dict):
        raise ValidationFailed("join needs {\"site\", \"view\", \"station\"}.", fields={"view": "missing"})
    view, site, station = data.get("view"), data.get("site"), data.get("station")
    fields = {}
    if view not in rooms.VIEWS:
        fields["view"] = f"must be one of {', '.join(rooms.VIEWS)}"
    if view != "city" and not isinstance(site, str):
        fields["site"] = "required"
    if view == "station" and not isinstance(station, str):
        fields["station"] = "required for the station view"
    if fields:
        raise ValidationFailed("Cannot join.", fields=fields)
    return (site if view != "city" else None), view, (station if view == "station" else None)


def _room(principal: Principal, site: str | None, view: str, station: str | None) -> str:
    if view == "city":
        authorize(principal, "live.city", site="*")
        return rooms.CITY_ROOM
    authorize(principal, f"live.{view}", site=site, station=station)
    site_config = site_flow.site_config(_services(), site)  # unknown site -> 404
    if view == "station":
        site_config.require_station(station)
        return rooms.station_room(site, station)
    return {"display": rooms.display_room, "dashboard": rooms.dashboard_room,
            "supervisor": rooms.supervisor_room}[view](site)


@socketio.on("join")
def on_join(data: Any = None):
    session = _sessions.get(request.sid)
    if session is None:
        return {"ok": False, "error": {"code": "unauthorized", "message": "Not connected."}}
    principal: Principal = session["principal"]
    try:
        site, view, station = _parse_join(data)
        room = _room(principal, site, view, station)
    except DomainError as exc:
        return _refuse(exc)
    join_room(room)
    session["joined"].append((site, view))
    if view == "supervisor":  # full records of everyone open at the site
        audit.record(_services(), principal.actor, "record.listed", site=site, subject=f"live:{site}",
                     detail={"view": "live supervisor"})
    emit("snapshot", _hub().snapshot_for(principal, site=site, view=view))
    return {"ok": True, "room": room}


@socketio.on("resync")
def on_resync(_data: Any = None):
    session = _sessions.get(request.sid)
    if session is None:
        return {"ok": False}
    if session.get("ticket") is not None:  # a phone back from sleep or a lost network
        emit("ticket", _hub().ticket_now(session["ticket"].site_id, session["ticket"].visit_id))
        return {"ok": True}
    for site, view in session["joined"]:
        emit("snapshot", _hub().snapshot_for(session["principal"], site=site, view=view))
    return {"ok": True}
