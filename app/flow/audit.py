"""The audit trail: who looked at or changed what, beyond the visit events themselves.

Entries are append-only (database triggers refuse UPDATE and DELETE). They never hold personal
data: a visit is named by its id and ticket, a person by nothing at all.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row

from app.domain.errors import Forbidden
from app.domain.permissions import Principal, authorize, role_may
from app.domain.visit import Event, EventType

from . import report_files
from .services import Services

# What the audit page can filter on (its labels: app/web/labels.py).
ACTIONS = (
    "auth.login", "auth.login_failed", "auth.pin_login", "auth.pin_failed", "auth.logout", "auth.idle_logout",
    "auth.locked", "auth.session_ended", "live.origin_refused",
    "auth.password_changed", "user.created", "user.changed", "user.disabled", "user.enabled",
    "user.password_reset", "token.created", "token.revoked", "display.paired", "record.viewed",
    "record.listed", "report.viewed", "override.release_early", "override.correction", "audit.exported",
    "immunizations.exported", "stock.wasted", "stock.explained", "stock.closed",
)


class Outcome(StrEnum):
    """How an audited attempt ended."""

    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"


EXPORT_COLUMNS = ("id", "at", "actor", "action", "outcome", "site", "subject", "detail", "remote_addr")


def record(
    services: Services, actor: str, action: str, *, outcome: Outcome = Outcome.OK, site: str | None = None,
    subject: str | None = None, detail: dict[str, Any] | None = None, remote_addr: str | None = None,
) -> None:
    services.store.staff.audit(
        at=services.clock.now(), actor=actor[:160], action=action, outcome=outcome, site_id=site,
        subject=subject[:160] if subject else None, detail=detail or {}, remote_addr=remote_addr,
    )


def override_entry(event: Event) -> dict[str, Any] | None:
    """The audit entry an event needs besides itself: supervisor overrides, with their reason."""
    if event.type == EventType.RELEASED and event.data.get("override_reason"):
        action, detail = "override.release_early", {"reason": event.data["override_reason"]}
    elif event.type == EventType.CORRECTED:
        action = "override.correction"
        detail = {"reason": event.data["reason"], "corrects_seq": event.data.get("corrects_seq"),
                  "to": event.data.get("to")}
    else:
        return None
    return dict(
        at=event.at, actor=event.actor, action=action, outcome=Outcome.OK, site_id=event.site,
        subject=f"visit:{event.visit_id}", detail=dict(detail, seq=event.seq), remote_addr=None,
    )


def entries(
    services: Services, principal: Principal, *, site: str | None = None, actor: str | None = None,
    action: str | None = None, since: datetime | None = None, until: datetime | None = None,
    limit: int = 200, before_id: int | None = None,
) -> list[dict[str, Any]]:
    if site is not None:
        authorize(principal, "audit.read", site=site)
    elif not role_may(principal.role, "audit.read"):
        raise Forbidden(f"{principal.role} {principal.name!r} may not read the audit trail.")
    # A site-bound reader only ever gets the entries of its own sites.
    rows = services.store.staff.audit_entries(
        sites=principal.sites, site=site, actor=actor, action=action, since=since, until=until, limit=limit,
        before_id=before_id,
    )
    return [_entry(row) for row in rows]


def _entry(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id, "at": row.at.isoformat(), "actor": row.actor, "action": row.action, "outcome": row.outcome,
        "site": row.site_id, "subject": row.subject, "detail": row.detail, "remote_addr": row.remote_addr,
    }


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    """The trail as CSV, through the exports' one cell rule (report_files: no formulas, nothing
    that breaks the file)."""
    values = [[row[column] if column != "detail" else _detail_text(row["detail"]) for column in EXPORT_COLUMNS]
              for row in rows]
    return report_files.table_csv(list(EXPORT_COLUMNS), values)


def _detail_text(detail: dict[str, Any]) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted(detail.items()))
