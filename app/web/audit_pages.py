"""The audit trail for supervisors: filter, read, export as CSV."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, Response, render_template, request

from app.domain.errors import ValidationFailed
from app.flow import audit

from .access import requires
from .context import principal, services

bp = Blueprint("audit", __name__)

PAGE = 200
EXPORT_LIMIT = 100_000


def _filters() -> dict:
    fields, values = {}, {}
    for name in ("site", "actor", "action"):
        value = request.args.get(name, "").strip()[:160]
        values[name] = value or None
    for name in ("since", "until"):
        raw = request.args.get(name, "").strip()
        if raw:
            try:
                day = datetime.fromisoformat(raw).date()
            except ValueError:
                fields[name] = "must be YYYY-MM-DD"
                continue
            start = datetime.combine(day, time(), tzinfo=services().clock.now().tzinfo)
            values[name] = start + timedelta(days=1) if name == "until" else start
        else:
            values[name] = None
    if fields:
        raise ValidationFailed("Bad filter.", fields=fields)
    return values


@bp.get("/audit")
@requires("audit.read")
def audit_page():
    rows = audit.entries(services(), principal(), limit=PAGE, **_filters())
    sites = [site_id for site_id in services().store.site_ids() if principal().covers(site_id)]
    return render_template("audit.html", rows=rows, sites=sites, actions=audit.ACTIONS, args=request.args, page=PAGE)


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
