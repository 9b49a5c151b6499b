"""The audit trail for supervisors: filter, read, export as CSV."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request

from app.flow import audit
from app.flow.sites import visible_sites

from . import labels, params
from .access import requires
from .context import principal, services

bp = Blueprint("audit", __name__)

PAGE = 200
EXPORT_LIMIT = 100_000


def _zone() -> ZoneInfo:
    """The time zone of the caller's sites: the page's times and its date filters."""
    return labels.zone_of([row.site for row in visible_sites(services(), principal())])


def _filters() -> dict:
    query = params.parse(params.AuditPageQuery)
    midnight = time(tzinfo=_zone())
    return {
        "site": query.site, "actor": query.actor, "action": query.action,
        "since": datetime.combine(query.since, midnight) if query.since else None,
        "until": datetime.combine(query.until + timedelta(days=1), midnight) if query.until else None,
    }


@bp.get("/audit")
@requires("audit.read")
def audit_page():
    rows = audit.entries(services(), principal(), limit=PAGE, **_filters())
    sites = [row.site.id for row in visible_sites(services(), principal())]
    return render_template("audit.html", rows=rows, sites=sites, actions=audit.ACTIONS, args=request.args, page=PAGE,
                           zone=_zone())


@bp.get("/audit.csv")
@requires("audit.read")
def audit_export():
    filters = _filters()
    rows = audit.entries(services(), principal(), limit=EXPORT_LIMIT, **filters)
    audit.record(services(), principal().actor, "audit.exported", site=filters["site"],
                 detail={"rows": len(rows), **{k: str(v) for k, v in filters.items() if v}})
    response = Response(audit.to_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=siteflow-audit.csv"
    return response
