"""Pairing a display: the TV shows a short code, a supervisor types it, the TV gets a credential.

The TV holds a long random secret (never shown) and polls with it; the code it shows is short
and only identifies the request. The credential is a display token, created when the TV
collects it, handed over once, revocable like any token.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from app.domain.errors import Forbidden, NotFound, ValidationFailed
from app.domain.permissions import Principal, authorize, role_may
from app.domain.text import name_problem, normalised
from app.domain.vocabulary import STATIONS

from . import audit, tokens
from .services import Services

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read across a hall
CODE_LENGTH = 6
LIFETIME = timedelta(minutes=10)
LANGUAGES = ("zh", "en", "both")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def start(services: Services) -> dict[str, Any]:
    """A new pairing request: the secret stays on the TV, the code goes on its screen."""
    secret = secrets.token_urlsafe(32)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    now = services.clock.now()
    services.store.staff.add_pairing(
        secret_hash=_digest(secret), code_hash=_digest(code), at=now, expires_at=now + LIFETIME,
    )
    return {"secret": secret, "code": f"{code[:3]}-{code[3:]}", "expires_at": (now + LIFETIME).isoformat(),
            "expires_in": int(LIFETIME.total_seconds())}


def check_settings(services: Services, site_id: str, label: str, stations: list[str], language: str) -> dict[str, Any]:
    site = services.store.site(site_id).site
    fields = {}
    label = normalised(label)
    if name_problem(label, max_length=60):
        fields["label"] = "1-60 characters, no invisible or control characters, e.g. Hall A screen"
    unknown = [station for station in stations if station not in STATIONS]
    if unknown:
        fields["stations"] = f"unknown: {', '.join(unknown)}"
    if language not in LANGUAGES:
        fields["language"] = f"must be one of {', '.join(LANGUAGES)}"
    if fields:
        raise ValidationFailed("Cannot pair the display with these settings.", fields=fields)
    return {"label": label, "stations": [s for s in STATIONS if s in stations] or list(STATIONS),
            "language": language, "site_name": site.name}


def approve(
    services: Services, principal: Principal, *, code: str, site_id: str, label: str, stations: list[str],
    language: str, remote_addr: str | None = None,
) -> None:
    authorize(principal, "devices.manage", site=site_id)
    settings = check_settings(services, site_id, label, stations, language)
    now = services.clock.now()
    row = services.store.staff.pending_pairing_by_code(_digest(normalise_code(code)), now=now)
    if row is None:
        audit.record(services, principal.actor, "display.paired", outcome=audit.Outcome.FAILED, site=site_id,
                     detail={"reason": "no display waiting with this code"}, remote_addr=remote_addr)
        raise NotFound("No display is waiting with this code: check it, or reload the pairing page on the TV.",
                       code="unknown_pairing_code")
    services.store.staff.approve_pairing(row.id, site_id=site_id, settings=settings, by=principal.actor, at=now)
    audit.record(services, principal.actor, "display.paired", site=site_id, subject=f"pairing:{row.id}",
                 detail={"label": settings["label"]}, remote_addr=remote_addr)


def collect(services: Services, secret: str) -> dict[str, Any]:
    """What the TV gets when it polls: pending, expired, or (once) its display credential."""
    row = services.store.staff.pairing_by_secret(_digest(secret)) if secret else None
    if row is None:
        raise NotFound("Unknown pairing request: start again.", code="unknown_pairing")
    now = services.clock.now()
    if row.claimed_at is not None:
        raise NotFound("This pairing was already completed: start again.", code="unknown_pairing")
    if row.approved_at is None:
        if row.expires_at <= now:
            return {"status": "expired"}
        return {"status": "pending", "expires_at": row.expires_at.isoformat()}
    settings = dict(row.settings)
    token = tokens.create_token(
        services, role="display", site_id=row.site_id, station=None, name=f"display: {settings['label']}",
        actor=row.approved_by, settings=settings,
    )
    token_id = tokens.authenticate(services, token).token_id
    if token_id is None:
        raise RuntimeError("a display token authenticated without its id")
    if not services.store.staff.claim_pairing(row.id, token_id=token_id, at=now):
        tokens.revoke(services, ids=[token_id], actor=row.approved_by)
        raise NotFound("This pairing was already completed: start again.", code="unknown_pairing")
    return {"status": "paired", "token": token, "site": row.site_id, "settings": settings}


def displays(services: Services, principal: Principal, *, after: int, limit: int,
             ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the paired displays of the caller's sites in id order, and the `after` of the
    next page (None at the end)."""
    if not role_may(principal.role, "devices.manage"):
        raise Forbidden(f"{principal.role} {principal.name!r} may not manage displays.")
    rows, next_after = services.store.tokens_page(role="display", sites=principal.sites, active=True, after=after,
                                                  limit=limit)
    return [
        {"id": row.id, "name": row.name, "site": row.site_id, "settings": row.settings or {},
         "created_at": row.created_at.isoformat(), "created_by": row.created_by}
        for row in rows
    ], next_after


def revoke_display(services: Services, principal: Principal, token_id: int) -> None:
    match = [row for row in services.store.list_tokens(role="display", active=True) if row.id == token_id]
    if not match:
        raise NotFound("No such display.", code="unknown_display")
    authorize(principal, "devices.manage", site=match[0].site_id)
    tokens.revoke(services, ids=[token_id], actor=principal.actor)


