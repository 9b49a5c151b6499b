"""Bearer tokens: created once, shown once, stored as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from sqlalchemy import Row

from app.domain.errors import Unauthorized, ValidationFailed
from app.domain.permissions import ROLES, SITE_BOUND, Principal, authorize
from app.domain.vocabulary import STATIONS

from . import audit
from .services import Services

PREFIX = "sf_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    services: Services, *, role: str, site_id: str | None, station: str | None, name: str, actor: str = "cli",
    settings: dict[str, Any] | None = None,
) -> str:
    """A new token, returned once. `actor`: who made it (the audit trail); `settings`: a display's screen."""
    fields: dict[str, str] = {}
    if role not in ROLES:
        fields["role"] = f"must be one of {', '.join(ROLES)}"
    if role in SITE_BOUND and not site_id:
        fields["site"] = f"a {role} token belongs to one site"
    if role == "station" and station not in STATIONS:
        fields["station"] = f"a station token needs a station: one of {', '.join(STATIONS)}"
    if role != "station" and station:
        fields["station"] = "only station tokens have a station"
    if role in ROLES and role not in SITE_BOUND and site_id:
        fields["site"] = f"{role} tokens are not bound to a site"
    if not name.strip():
        fields["name"] = "must not be empty"
    if fields:
        raise ValidationFailed("Cannot create that token.", fields=fields)
    if site_id:
        services.store.site(site_id)  # raises NotFound for an unknown site
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = services.store.add_token(
        token_hash=hash_token(token), role=role, site_id=site_id, station=station, name=name.strip(),
        at=services.clock.now(), settings=settings, created_by=actor,
    )
    audit.record(services, actor, "token.created", site=site_id, subject=f"token:{token_id}",
                 detail={"role": role, "station": station, "name": name.strip()})
    return token


# Tokens are looked up once per CACHE_SECONDS per process, not on every request (it was 7% of
# the server's time under load). A revocation takes effect at once in the process that
# made it, and within CACHE_SECONDS in the others.
CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, Principal]] = {}


def authenticate(services: Services, token: str) -> Principal:
    digest = hash_token(token)
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = services.store.token_by_hash(digest) if token.startswith(PREFIX) else None
    if row is None:
        _cache.pop(digest, None)
        raise Unauthorized("The bearer token is unknown or revoked.", code="invalid_token")
    principal = Principal(
        name=row.name, role=row.role, sites=frozenset({row.site_id}) if row.site_id else None,
        station=row.station, token_id=row.id, settings=row.settings,
    )
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (now + CACHE_SECONDS, principal)
    return principal


def forget_cached() -> None:
    """Drop this process's cached tokens (another process revoked one: app/live/credentials.py)."""
    _cache.clear()


def revoke(
    services: Services, *, ids: list[int] | None = None, name: str | None = None, actor: str = "cli",
) -> int:
    """Revoke tokens by id or by name; forgets every cached token of this process, and the live
    side disconnects their sockets on every process."""
    revoked = services.store.revoke_tokens(ids=ids, name=name, at=services.clock.now())
    count = len(revoked)
    forget_cached()
    if revoked:
        services.credential_ended("token", revoked)
    if count:
        audit.record(services, actor, "token.revoked", subject=f"token:{','.join(map(str, ids))}" if ids else None,
                     detail={"name": name, "count": count} if name else {"count": count})
    return count


def list_tokens(services: Services) -> list[Row[Any]]:
    """Every token, for the server's command line (never their values)."""
    rows: list[Row[Any]] = services.store.list_tokens()
    return rows


def revoked_among(services: Services, token_ids: list[int]) -> set[int]:
    return services.store.revoked_among(token_ids)


def tokens_page(services: Services, principal: Principal, *, after: int, limit: int,
                ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of every token (API tokens and paired displays, revoked ones too) in id order,
    and the `after` of the next page (None at the end). Never a token or its hash."""
    authorize(principal, "tokens.read", site="*")
    rows, next_after = services.store.tokens_page(after=after, limit=limit)
    return [_listed(row) for row in rows], next_after


def _listed(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "role": row.role, "sites": [row.site_id] if row.site_id else None,
        "station": row.station, "settings": row.settings, "created_at": row.created_at.isoformat(),
        "created_by": row.created_by, "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
