"""Read-side commands: what a caller may see of a site and its visits."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.domain.errors import ValidationFailed
from app.domain.permissions import Principal, authorize, view_level
from app.domain.privacy import event_view, visit_view
from app.domain.visit import STATES, Visit
from app.domain.vocabulary import (
    AEFI_SERIOUS_CRITERIA,
    AEFI_SEVERITIES,
    CHECKLIST,
    DEFERRAL_REASONS,
    INJECTION_SITES,
    ROUTES,
    SCREENING_QUESTIONS,
    STATION_LABELS,
    STATIONS,
    Station,
)

from . import audit
from .services import Services


def site_snapshot(services: Services, principal: Principal, *, site_id: str) -> dict[str, Any]:
    """Counts, calls, expected waits and the observation board: what every screen may see."""
    authorize(principal, "snapshot.read", site=site_id)
    now = services.clock.now()
    with services.figures.today(site_id) as model:
        return model.snapshot(now)


def site_info(services: Services, principal: Principal, *, site_id: str) -> dict[str, Any]:
    """Everything a tablet needs to render its forms."""
    authorize(principal, "site.read", site=site_id)
    site = services.store.site(site_id).site
    today = services.clock.now().astimezone(site.tz).date()
    return {
        "id": site.id,
        "name": site.name,
        "name_zh": site.name_zh,
        "timezone": site.timezone,
        "today": today.isoformat(),
        "daily_target": site.daily_target,
        "stations": {
            name: {"desks": list(site.stations[name].desks), "label": STATION_LABELS[name]} for name in STATIONS
        },
        "observation": site.observation.model_dump(),
        "queue": site.queue.model_dump(),
        "products": [
            {
                "code": product.code,
                "name": product.name,
                "name_zh": product.name_zh,
                "manufacturer": product.manufacturer,
                "specification": product.specification,
                "route": product.route,
                "lots": [
                    {
                        "lot": lot.lot,
                        "expires_on": lot.expires_on.isoformat(),
                        "barcode": lot.barcode,
                        "expired": lot.expires_on < today,
                    }
                    for lot in product.lots
                ],
            }
            for product in site.products
        ],
        "screening_questions": _labelled(SCREENING_QUESTIONS),
        "deferral_reasons": _labelled(DEFERRAL_REASONS),
        "checklist": _labelled(CHECKLIST),
        "injection_sites": _labelled(INJECTION_SITES),
        "routes": _labelled(ROUTES),
        "aefi_severities": list(AEFI_SEVERITIES),
        "aefi_serious_criteria": _labelled(AEFI_SERIOUS_CRITERIA),
    }


def _labelled(codes: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    return [{"code": code, "zh": labels["zh"], "en": labels["en"]} for code, labels in codes.items()]


def get_visit(services: Services, principal: Principal, *, site_id: str, visit_id: str) -> dict[str, Any]:
    authorize(principal, "visit.read", site=site_id)
    level = view_level(principal)
    visit = services.store.visit(site_id, visit_id)
    history = services.store.visit_events(site_id, visit_id)
    view = visit_view(visit, level, now=services.clock.now())
    view["events"] = [event_view(event, level) for event in history]
    if level == "full":
        audit.record(services, principal.actor, "record.viewed", site=site_id, subject=f"visit:{visit_id}",
                     detail={"ticket": visit.ticket})
    return view


def list_visits(
    services: Services, principal: Principal, *, site_id: str, states: list[str] | None, station: str | None,
    day: date | None, limit: int, ticket: str | None = None, after: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a day's visits in queue order, and the cursor of the next page (None at the
    end). `after` is the cursor the page before returned."""
    authorize(principal, "visit.list", site=site_id, station=station if principal.role == "station" else None)
    if principal.role == "station" and station is None:
        station = principal.station
    site = services.store.site(site_id).site
    if station is not None and station not in tuple(Station):
        raise ValidationFailed("Unknown station.", fields={"station": f"must be one of {', '.join(STATIONS)}, emergency"})
    unknown = [state for state in states or () if state not in STATES]
    if unknown:
        raise ValidationFailed("Unknown state.", fields={"state": f"unknown: {', '.join(unknown)}"})
    if day is None:
        day = services.clock.now().astimezone(site.tz).date()
    level = view_level(principal)
    now = services.clock.now()
    visits = services.store.list_visits(site_id, states=tuple(states) if states else None, station=station, day=day,
                                        ticket=ticket.upper() if ticket else None, after=_after(after),
                                        limit=limit + 1)
    page, more = visits[:limit], len(visits) > limit
    if level == "full" and page:
        audit.record(services, principal.actor, "record.listed", site=site_id, subject=f"visits:{day.isoformat()}",
                     detail={"count": len(page), "states": ",".join(states or ()), "station": station or ""})
    return [visit_view(visit, level, now=now) for visit in page], _cursor(page[-1]) if more else None


def _cursor(visit: Visit) -> str:
    """Where the next page starts: the last row's place in the order (no personal data)."""
    return f"{int(visit.priority)}_{visit.queue_pos}_{visit.id}"


def _after(cursor: str | None) -> tuple[bool, int, str] | None:
    if cursor is None:
        return None
    priority, _, rest = cursor.partition("_")
    queue_pos, _, visit_id = rest.partition("_")
    if priority not in ("0", "1") or not queue_pos.isascii() or not queue_pos.isdigit() or not visit_id:
        raise ValidationFailed("Bad cursor.", fields={"after": "must be the `next` of a page before"})
    return priority == "1", int(queue_pos), visit_id


def visit_now(services: Services, site_id: str, visit_id: str) -> Visit:
    """A visit as it is now, for the server's own timers (no caller, nothing shown as is)."""
    return services.store.visit(site_id, visit_id)


def observations_ending(services: Services, *, after: datetime, before: datetime) -> list[tuple[str, str, str, datetime]]:
    """(site, visit id, ticket, leave-by) of everyone whose observation ends in (after, before]."""
    return services.store.observations_ending(after=after, before=before)


def slip(services: Services, principal: Principal, *, site_id: str, visit_id: str) -> dict[str, Any]:
    """What a printed slip shows. No personal data: slips end up on chairs and in bins."""
    authorize(principal, "visit.read", site=site_id)
    site = services.store.site(site_id).site
    visit = services.store.visit(site_id, visit_id)

    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(site.tz) if moment else None

    product = site.product(visit.injection["product"]) if visit.injection else None
    return {
        "site": {"id": site.id, "name": site.name, "name_zh": site.name_zh},
        "visit_id": visit.id,
        "ticket": visit.ticket,
        "checked_in_at": local(visit.checked_in_at),
        "dose_number": visit.dose_number,
        "injected_at": local(visit.injected_at),
        "leave_at": local(visit.leave_at),
        "observation_minutes": visit.injection["observation_minutes"] if visit.injection else None,
        "product": {"name": product.name, "name_zh": product.name_zh} if product else None,
        "lot": visit.injection["lot"] if visit.injection else None,
        # What the slip's QR code holds, built only here; the stations' scanners read it (release.js).
        "qr": f"siteflow:{site.id}:{visit.id}",
    }
