"""The person's live ticket on their own phone: /t/<code>, public, opened from the slip's QR.

One small page: the server renders the ticket as it is now (it refreshes itself without
JavaScript), and static/js/ticket.js keeps it live over the ticket's own Socket.IO room. A wrong,
expired or revoked code is the same 404 as any unknown address; wrong codes count against the
caller's address (app/web/limits.py). Search engines are told to keep out, the page is never
cached and it sends no referrer.
"""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask_babel import gettext

from app.domain.errors import DomainError, NotFound
from app.domain.phone_ticket import Step, TicketView
from app.flow import phone_tickets

from .access import public
from .context import services
from .labels import label, language, local_time
from .limits import ticket_guesses

bp = Blueprint("tickets", __name__)

REFRESH_SECONDS = 20  # without JavaScript: the page reloads itself this often
NOT_INDEXED = "noindex, nofollow, noarchive"


class TooManyGuesses(DomainError):
    status = 429
    code = "too_many_requests"


def public_url(path: str) -> str:
    """Where a phone opens `path`: the configured public address, or the one this request came to."""
    return (current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")) + path


def strings() -> dict[str, Any]:
    """The page's words (static/js/ticket.js says the same things when the ticket changes)."""
    return {
        "waiting": gettext("Waiting for %(station)s"),
        "ahead": gettext("%(n)s ahead of you"),
        "next": gettext("You are next"),
        "about": gettext("about %(n)s min"),
        "called": gettext("Go to %(station)s now"),
        "desk": gettext("Desk %(desk)s"),
        "at_desk": gettext("At %(station)s, desk %(desk)s"),
        "observing": gettext("In observation: OK to leave at %(time)s"),
        "time_left": gettext("Time left"),
        "may_leave": gettext("Your observation is over: you may go to the exit"),
        "done": gettext("Done: you may leave"),
        "see_staff": gettext("Please see a member of staff"),
        "unwell_heading": gettext("Feeling unwell?"),
        "live": gettext("This page follows your turn by itself: keep it open. Your phone vibrates when you are called."),
        "offline": gettext("No connection: trying again…"),
        "ended": gettext("This ticket has ended. Please see a member of staff."),
        # Where the desk is: the station's name in this language (the JS fills it in like the server).
        "stations": {code: label("station", code) for code in ("consent", "injection", "observation", "exit")},
    }


def headline(view: TicketView, words: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the page says for a view, as rendered without JavaScript."""
    station = label("station", view["station"])
    step = view["step"]
    lines: dict[str, Any] = {"title": "", "detail": "", "desk": None}
    if step == Step.WAITING:
        lines["title"] = words["waiting"] % {"station": station}
        ahead, minutes = view["ahead"], view["minutes"]
        parts = [words["next"] if ahead == 0 else words["ahead"] % {"n": ahead}] if ahead is not None else []
        if minutes is not None and ahead:
            parts.append(words["about"] % {"n": minutes})
        lines["detail"] = " · ".join(parts)
    elif step == Step.CALLED:
        lines["title"] = words["called"] % {"station": station}
        lines["desk"] = words["desk"] % {"desk": view["desk"]}
    elif step == Step.AT_DESK:
        lines["title"] = words["at_desk"] % {"station": station, "desk": view["desk"]}
    elif step == Step.OBSERVING:
        leave_at = local_time(view["leave_at"], ZoneInfo(view["site"]["timezone"]), "%H:%M")
        lines["title"] = words["observing"] % {"time": leave_at}
    else:
        lines["title"] = words[step.value]
    lines["instructions"] = view["instructions"][lang]
    lines["emergency"] = view["emergency"][lang] if view["emergency"] else None
    return lines


@bp.get("/t/<code>")
@public
def ticket(code: str):
    if not ticket_guesses.allowed():
        raise TooManyGuesses("Too many wrong ticket codes from this address: try again later.")
    try:
        _, view = phone_tickets.open_page(services(), code, scanned=not {"refresh", "lang"} & set(request.args))
    except NotFound:
        ticket_guesses.failed()
        abort(404)  # the very answer of any address that does not exist

    words, lang = strings(), language()
    page = make_response(render_template(
        "ticket.html", view=view, words=words, lang=lang, lines=headline(view, words, lang),
        code=code, refresh=REFRESH_SECONDS, step=Step,
    ))
    page.headers["X-Robots-Tag"] = NOT_INDEXED
    return page
