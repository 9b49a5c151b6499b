"""Staff accounts, the audit log and display pairings in the database."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, insert, select, update

from app.domain.errors import Conflict, NotFound

from .database import WRITE
from .keyset import page_by_id
from .tables import audit_log, pairings, staff_sessions, users


class StaffStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._writer = engine.execution_options(**WRITE)

    # --- users ---
    def add_user(self, *, at: datetime, **values: Any) -> int:
        with self._writer.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == values["username"])).first():
                raise Conflict(f"The username {values['username']!r} is taken.", code="username_taken",
                               fields={"username": "is taken"})
            result = conn.execute(insert(users).values(
                pin_failures=0, active=True, created_at=at, updated_at=at, **values,
            ))
            return int(result.inserted_primary_key[0])

    def user(self, *, user_id: int | None = None, username: str | None = None) -> Row | None:
        query = select(users)
        query = query.where(users.c.id == user_id) if user_id is not None else query.where(users.c.username == username)
        with self.engine.connect() as conn:
            return conn.execute(query).first()

    def require_user(self, username: str) -> Row:
        row = self.user(username=username)
        if row is None:
            raise NotFound(f"No user {username!r}.", code="unknown_user")
        return row

    def list_users(self) -> list[Row]:
        with self.engine.connect() as conn:
            return conn.execute(select(users).order_by(users.c.username)).all()

    def users_page(self, *, after: int, limit: int) -> tuple[list[Row], int | None]:
        """Accounts in id order after the id `after`, and the `after` of the next page (None at the end)."""
        with self.engine.connect() as conn:
            return page_by_id(conn, select(users), users.c.id, after=after, limit=limit)

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def update_user(self, user_id: int, *, at: datetime, **values: Any) -> None:
        with self._writer.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(updated_at=at, **values))

    # --- sessions ---
    def open_session(self, *, key_hash: str, user_id: int, at: datetime, expires_at: datetime,
                     user_agent: str | None, remote_addr: str | None) -> int:
        with self._writer.begin() as conn:
            return int(conn.execute(insert(staff_sessions).values(
                key_hash=key_hash, user_id=user_id, created_at=at, last_seen_at=at, expires_at=expires_at,
                user_agent=(user_agent or "")[:200] or None, remote_addr=remote_addr,
            )).inserted_primary_key[0])

    def session_by_key(self, key_hash: str) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(select(staff_sessions).where(staff_sessions.c.key_hash == key_hash)).first()

    def touch_session(self, session_id: int, *, at: datetime) -> None:
        with self._writer.begin() as conn:
            conn.execute(update(staff_sessions).where(staff_sessions.c.id == session_id).values(last_seen_at=at))

    def end_sessions(self, *, at: datetime, reason: str, session_ids: list[int] | None = None,
                     user_id: int | None = None, keep: int | None = None) -> list[int]:
        """End the given sessions, or all of a user's (but `keep`); the ids of those that were open."""
        query = select(staff_sessions.c.id).where(staff_sessions.c.ended_at.is_(None))
        if session_ids is not None:
            query = query.where(staff_sessions.c.id.in_(session_ids))
        if user_id is not None:
            query = query.where(staff_sessions.c.user_id == user_id)
        if keep is not None:
            query = query.where(staff_sessions.c.id != keep)
        with self._writer.begin() as conn:
            ended = list(conn.execute(query).scalars())
            if ended:
                conn.execute(update(staff_sessions).where(staff_sessions.c.id.in_(ended)).values(
                    ended_at=at, ended_reason=reason))
        return ended

    def open_sessions(self, *, user_id: int | None = None, session_ids: list[int] | None = None) -> list[Row]:
        """Sessions not ended (yet maybe past their time: the caller compares), newest first."""
        query = select(staff_sessions).where(staff_sessions.c.ended_at.is_(None))
        if user_id is not None:
            query = query.where(staff_sessions.c.user_id == user_id)
        if session_ids is not None:
            query = query.where(staff_sessions.c.id.in_(session_ids))
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(staff_sessions.c.last_seen_at.desc())).all()

    def count_pin_failure(self, user_id: int) -> int:
        with self._writer.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(pin_failures=users.c.pin_failures + 1))
            return int(conn.execute(select(users.c.pin_failures).where(users.c.id == user_id)).scalar_one())

    # --- audit log ---
    def audit(self, **values: Any) -> None:
        with self._writer.begin() as conn:
            conn.execute(insert(audit_log).values(**values))

    def audit_entries(
        self, *, sites: frozenset[str] | None, site: str | None = None, actor: str | None = None,
        action: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int = 500, before_id: int | None = None,
    ) -> list[Row]:
        query = select(audit_log)
        if sites is not None:  # a site-bound reader sees the entries of its sites only
            query = query.where(audit_log.c.site_id.in_(sorted(sites)))
        if site:
            query = query.where(audit_log.c.site_id == site)
        if actor:
            query = query.where(audit_log.c.actor.contains(actor, autoescape=True))
        if action:
            query = query.where(audit_log.c.action.startswith(action, autoescape=True))
        if since:
            query = query.where(audit_log.c.at >= since)
        if until:
            query = query.where(audit_log.c.at < until)
        if before_id:
            query = query.where(audit_log.c.id < before_id)
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit)).all()

    # --- display pairing ---
    def add_pairing(self, *, secret_hash: str, code_hash: str, at: datetime, expires_at: datetime) -> int:
        with self._writer.begin() as conn:
            result = conn.execute(insert(pairings).values(
                secret_hash=secret_hash, code_hash=code_hash, created_at=at, expires_at=expires_at,
            ))
            return int(result.inserted_primary_key[0])

    def pending_pairing_by_code(self, code_hash: str, *, now: datetime) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(select(pairings).where(
                pairings.c.code_hash == code_hash, pairings.c.expires_at > now, pairings.c.approved_at.is_(None),
            ).order_by(pairings.c.id.desc())).first()

    def pairing_by_secret(self, secret_hash: str) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(select(pairings).where(pairings.c.secret_hash == secret_hash)).first()

    def approve_pairing(self, pairing_id: int, *, site_id: str, settings: dict, by: str, at: datetime) -> bool:
        with self._writer.begin() as conn:
            done = conn.execute(update(pairings).where(
                pairings.c.id == pairing_id, pairings.c.approved_at.is_(None),
            ).values(site_id=site_id, settings=settings, approved_by=by, approved_at=at))
            return done.rowcount == 1

    def claim_pairing(self, pairing_id: int, *, token_id: int, at: datetime) -> bool:
        with self._writer.begin() as conn:
            done = conn.execute(update(pairings).where(
                pairings.c.id == pairing_id, pairings.c.claimed_at.is_(None),
            ).values(token_id=token_id, claimed_at=at))
            return done.rowcount == 1
