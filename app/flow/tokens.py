"""Bearer tokens: created once, shown once, stored as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets
import time

from app.domain.errors import Unauthorized, ValidationFailed
from app.domain.permissions import ROLES, Principal
from app.domain.vocabulary import STATIONS

from .services import Services

PREFIX = "sf_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(services: Services, *, role: str, site_id: str | None, station: str | None, name: str) -> str:
    fields: dict[str, str] = {}
    if role not in ROLES:
        fields["role"] = f"must be one of {', '.join(ROLES)}"
    if role in ("station", "display") and not site_id:
        fields["site"] = f"a {role} token belongs to one site"
    if role == "station" and station not in STATIONS:
        fields["station"] = f"a station token needs a station: one of {', '.join(STATIONS)}"
    if role != "station" and station:
        fields["station"] = "only station tokens have a station"
    if role == "admin" and site_id:
        fields["site"] = "admin tokens are not bound to a site"
    if not name.strip():
        fields["name"] = "must not be empty"
    if fields:
        raise ValidationFailed("Cannot create that token.", fields=fields)
    if site_id:
        services.store.site(site_id)  # raises NotFound for an unknown site
    token = PREFIX + secrets.token_urlsafe(32)
    services.store.add_token(
        token_hash=hash_token(token), role=role, site_id=site_id, station=station, name=name.strip(),
        at=services.clock.now(),
    )
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
    principal = Principal(name=row.name, role=row.role, site=row.site_id, station=row.station, token_id=row.id)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (now + CACHE_SECONDS, principal)
    return principal


def revoke(services: Services, *, ids: list[int] | None = None, name: str | None = None) -> int:
    """Revoke tokens by id or by name; forgets every cached token of this process."""
    count = services.store.revoke_tokens(ids=ids, name=name, at=services.clock.now())
    _cache.clear()
    return count
