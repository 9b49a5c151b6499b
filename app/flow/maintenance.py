"""What an operator runs on the database itself: schema upgrades, a reachability check, and
re-keying the sealed personal data."""
from __future__ import annotations

from sqlalchemy import text

from app.store.migrate import upgrade

from .services import Services


def migrate(services: Services) -> None:
    """Bring the schema up to date (idempotent)."""
    upgrade(services.store.engine)


def database_answers(services: Services) -> None:
    """Raises if the database cannot be reached."""
    with services.store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def rewrap_data_keys(services: Services) -> int:
    """Rewrap every data key under the primary master key; the number rewrapped."""
    return services.store.sealer.rewrap_all(services.store.engine)


def rehash_documents(services: Services) -> tuple[int, int]:
    """Recompute every ID lookup with the current lookup key: (visits, bookings) rehashed."""
    return services.store.rehash_documents(), services.store.appointments.rehash_documents()
