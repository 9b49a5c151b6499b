"""The phone tickets' codes in the database (app/store/tables.py: ticket_codes), by their hashes."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, Row, and_, case, func, insert, select, update

from .database import WRITE
from .tables import ticket_codes


class TicketStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._writer = engine.execution_options(**WRITE)

    def issue(self, *, code_hash: str, site_id: str, visit_id: str, day: date, at: datetime, expires_at: datetime,
              by: str) -> tuple[int, list[int]]:
        """A visit's new code, in force from now: revokes the codes it had (their ids are returned
        with the new code's, so their live pages can be closed)."""
        with self._writer.begin() as conn:
            current = ticket_codes.c.revoked_at.is_(None)
            same_visit = and_(ticket_codes.c.site_id == site_id, ticket_codes.c.visit_id == visit_id)
            revoked = [row.id for row in conn.execute(select(ticket_codes.c.id).where(same_visit, current))]
            if revoked:
                conn.execute(update(ticket_codes).where(ticket_codes.c.id.in_(revoked)).values(revoked_at=at))
            result = conn.execute(insert(ticket_codes).values(
                code_hash=code_hash, site_id=site_id, visit_id=visit_id, day=day, issued_at=at, issued_by=by,
                expires_at=expires_at, opens=0,
            ))
            return int(result.inserted_primary_key[0]), revoked

    def by_hash(self, code_hash: str) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(select(ticket_codes).where(ticket_codes.c.code_hash == code_hash)).first()

    def in_force(self, site_id: str, visit_id: str) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(select(ticket_codes).where(
                ticket_codes.c.site_id == site_id, ticket_codes.c.visit_id == visit_id,
                ticket_codes.c.revoked_at.is_(None),
            ).order_by(ticket_codes.c.id.desc())).first()

    def opened(self, code_id: int, *, at: datetime) -> None:
        """The page was opened from a scan: count it, and remember the first time."""
        with self._writer.begin() as conn:
            conn.execute(update(ticket_codes).where(ticket_codes.c.id == code_id).values(
                opens=ticket_codes.c.opens + 1,
                first_opened_at=func.coalesce(ticket_codes.c.first_opened_at, at),
            ))

    def ended_among(self, code_ids: list[int], *, now: datetime) -> list[int]:
        """Those of these codes that are revoked, expired or gone."""
        if not code_ids:
            return []
        with self.engine.connect() as conn:
            valid = {row.id for row in conn.execute(select(ticket_codes.c.id).where(
                ticket_codes.c.id.in_(code_ids), ticket_codes.c.revoked_at.is_(None),
                ticket_codes.c.expires_at > now,
            ))}
        return [code_id for code_id in code_ids if code_id not in valid]

    def followed(self, site_id: str, day: date) -> tuple[int, int, int]:
        """(visits with a phone ticket, visits whose page was opened, openings) of a site's day."""
        opened = case((ticket_codes.c.first_opened_at.is_not(None), ticket_codes.c.visit_id))
        with self.engine.connect() as conn:
            row = conn.execute(select(
                func.count(ticket_codes.c.visit_id.distinct()), func.count(opened.distinct()),
                func.coalesce(func.sum(ticket_codes.c.opens), 0),
            ).where(ticket_codes.c.site_id == site_id, ticket_codes.c.day == day)).one()
        return int(row[0]), int(row[1]), int(row[2])
