"""Staff sessions held by the server, so that the server can end them.

A sign-in starts one; every request resumes it by the random key its cookie carries (stored
here only as a SHA-256). It ends at sign-out, after `idle` without a request, after its
lifetime, when its user's password changes (the other sessions) or is reset, when the account
is disabled, or when an admin or the user ends it. Whoever ends a session tells the live side
(`Services.credential_ended`), which disconnects that session's sockets on every process.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.errors import NotFound
from app.domain.permissions import Principal

from . import accounts, audit
from .services import Services

# A session's last_seen is written at most this often (and at most a tenth of the idle limit):
# a tablet polling every few seconds would otherwise write on every request.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class StaffSession:
    id: int
    account: accounts.Account
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    remote_addr: str | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(services: Services, account: accounts.Account, *, lifetime: timedelta, user_agent: str | None,
          remote_addr: str | None) -> str:
    """A new session for a signed-in account; returns the key for its cookie (shown once)."""
    key = secrets.token_urlsafe(32)
    now = services.clock.now()
    services.store.staff.open_session(key_hash=_hash(key), user_id=account.id, at=now, expires_at=now + lifetime,
                                      user_agent=user_agent, remote_addr=remote_addr)
    return key


def resume(services: Services, key: str, *, idle: timedelta) -> tuple[StaffSession | None, str | None]:
    """(the session, None) while it is open; (None, why) once it is not: "ended", "expired"
    or "idle" (the last two end it now)."""
    row = services.store.staff.session_by_key(_hash(key))
    if row is None or row.ended_at is not None:
        return None, "ended"
    account = accounts.get_account(services, user_id=row.user_id)
    now = services.clock.now()
    reason = "expired" if now >= row.expires_at else "idle" if now - row.last_seen_at > idle else None
    if account is None or not account.active:
        reason = "account_disabled"
    if reason is not None or account is None:
        reason = reason or "account_disabled"
        _end(services, [row.id], reason)
        if reason == "idle" and account is not None:
            audit.record(services, f"{account.role}:{account.username}", "auth.idle_logout",
                         site=account.sites[0] if len(account.sites) == 1 else None, subject=f"user:{account.username}")
        return None, reason
    if now - row.last_seen_at >= min(TOUCH_EVERY, idle / 10):
        services.store.staff.touch_session(row.id, at=now)
    return StaffSession(row.id, account, row.created_at, now, row.expires_at, row.user_agent, row.remote_addr), None


def end(services: Services, session_id: int, *, reason: str) -> None:
    """End one session (sign-out)."""
    _end(services, [session_id], reason)


def _end(services: Services, session_ids: list[int], reason: str) -> None:
    ended = services.store.staff.end_sessions(at=services.clock.now(), reason=reason, session_ids=session_ids)
    if ended:
        services.credential_ended("session", ended)


def open_sessions(services: Services, user_id: int, *, idle: timedelta) -> list[StaffSession]:
    """A user's sessions still open, newest first (those idle or past their time are left out)."""
    account = accounts.get_account(services, user_id=user_id)
    if account is None:
        return []
    now = services.clock.now()
    return [StaffSession(row.id, account, row.created_at, row.last_seen_at, row.expires_at, row.user_agent,
                         row.remote_addr)
            for row in services.store.staff.open_sessions(user_id=user_id)
            if now < row.expires_at and now - row.last_seen_at <= idle]


def end_own(services: Services, principal: Principal, session_id: int) -> None:
    """The signed-in user ends one of their own sessions (a tablet left signed in elsewhere)."""
    rows = services.store.staff.open_sessions(user_id=principal.user_id, session_ids=[session_id])
    if not rows:
        raise NotFound("No such open session of yours.", code="unknown_session")
    _end(services, [session_id], "ended_by_user")
    audit.record(services, principal.actor, "auth.session_ended", subject=f"user:{principal.name}",
                 detail={"session": session_id, "by": "user"})


def end_all_of(services: Services, username: str, *, actor: str) -> int:
    """An admin ends every session of a user (a lost tablet, a colleague who left)."""
    account = accounts.get_account(services, username=accounts.normalise_username(username))
    if account is None:
        raise NotFound(f"No user {username!r}.", code="unknown_user")
    count = accounts.end_sessions(services, account.id, reason="ended_by_admin")
    audit.record(services, actor, "auth.session_ended", site=account.sites[0] if len(account.sites) == 1 else None,
                 subject=f"user:{account.username}", detail={"sessions": count, "by": "admin"})
    return count


def closed_among(services: Services, session_ids: list[int], *, idle: timedelta) -> set[int]:
    """Which of these sessions are no longer open (ended, idle or past their time): the live
    side checks its sockets' sessions with this every second."""
    if not session_ids:
        return set()
    now = services.clock.now()
    rows = services.store.staff.open_sessions(session_ids=session_ids)
    open_ = {row.id for row in rows if now < row.expires_at and now - row.last_seen_at <= idle}
    return set(session_ids) - open_
