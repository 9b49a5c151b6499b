"""The database schema (SQLAlchemy Core). Migrations in migrations/versions must match it."""
from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")

sites = Table(
    "sites",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("config", Json, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ticket_day", Date, nullable=True),
    Column("ticket_no", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

visits = Table(
    "visits",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("ticket", String(12), nullable=True),
    Column("state", String(20), nullable=False),
    Column("station", String(20), nullable=True),
    Column("desk", String(20), nullable=True),
    Column("priority", Boolean, nullable=False),
    Column("queue_pos", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("document_key", String(120), nullable=False),
    Column("leave_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("data", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("site_id", "day", "ticket"),
    Index(None, "site_id", "station", "state", "priority", "queue_pos"),
    Index(None, "site_id", "active"),
    Index(None, "document_key", "day"),
    Index(None, "state", "leave_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("visit_id", String(32), nullable=False),
    Column("type", String(30), nullable=False),
    Column("station", String(20), nullable=True),
    Column("desk", String(20), nullable=True),
    Column("actor", String(120), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_hash", String(64), nullable=True),
    UniqueConstraint("site_id", "seq"),
    UniqueConstraint("site_id", "idempotency_key"),
    Index(None, "visit_id", "seq"),
    Index(None, "site_id", "at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=True),
    Column("station", String(20), nullable=True),
    Column("name", String(120), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # A paired display's screen settings (stations shown, language); who made the token.
    Column("settings", Json, nullable=True),
    Column("created_by", String(160), nullable=True),
)

# One random data key per site and day, wrapped by the master key (app/store/sealing.py).
# A sealed value names its key by id. Committed ids are never reused (AUTOINCREMENT), but SQLite
# hands out the id of a rolled-back insert again: the sealer caches only committed keys.
data_keys = Table(
    "data_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("wrapped", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("site_id", "day"),
    sqlite_autoincrement=True,
)

# A finished day's figures per site, computed once from its fold (app/flow/analytics.py): the
# city's 14-day trends and past rankings read these instead of folding 14 days of every site.
day_rollups = Table(
    "day_rollups",
    metadata,
    Column("site_id", String(40), ForeignKey("sites.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("doses", Integer, nullable=False),
    Column("figures", Json, nullable=False),  # the day's city row and its counts by hour
    Column("computed_at", UTCDateTime, nullable=False),
)

# Staff accounts. Passwords and PINs are argon2 hashes; sites and stations are the account's scope.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(120), nullable=False),
    Column("role", String(20), nullable=False),
    Column("sites", Json, nullable=False),
    Column("stations", Json, nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("pin_hash", String(200), nullable=True),
    Column("pin_failures", Integer, nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Staff sessions, held here so that the server can end them: the browser's cookie carries only
# a random key, stored as its SHA-256. A session ends at sign-out, after IDLE_MINUTES without a
# request, after SESSION_HOURS in all, and when its user's password changes or is reset, the
# account is disabled, or an admin or the user ends it.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ended_reason", String(30), nullable=True),
    Column("user_agent", String(200), nullable=True),
    Column("remote_addr", String(64), nullable=True),
    Index(None, "user_id", "ended_at"),
)

# Who looked at or changed what, beyond the visit events: append-only like the events.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(160), nullable=False),
    Column("action", String(60), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("site_id", String(40), nullable=True),
    Column("subject", String(160), nullable=True),
    Column("detail", Json, nullable=False),
    Column("remote_addr", String(64), nullable=True),
    Index(None, "at"),
    Index(None, "site_id", "at"),
    Index(None, "actor", "at"),
)

# A display asking to be paired: the TV holds the secret, a supervisor types the short code.
pairings = Table(
    "pairings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=True),
    Column("settings", Json, nullable=True),
    Column("approved_by", String(160), nullable=True),
    Column("approved_at", UTCDateTime, nullable=True),
    Column("token_id", Integer, ForeignKey("api_tokens.id"), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Index(None, "code_hash"),
)

# The codes of the people's live tickets on their own phones (/t/<code>): 128 random bits, kept
# only as their SHA-256. A visit has at most one code in force: a new one (a lost slip, reprinted
# with a new code) revokes the one before. `opens` counts the page's openings from a scan (not
# its own refreshes), `first_opened_at` says whether the person follows on a phone at all.
ticket_codes = Table(
    "ticket_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("visit_id", String(32), nullable=False),
    Column("day", Date, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("issued_by", String(160), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("first_opened_at", UTCDateTime, nullable=True),
    Column("opens", Integer, nullable=False),
    Index(None, "site_id", "visit_id"),
    Index(None, "site_id", "day"),
)

# Bookings (预约): a person booked into a slot by a file import (app/flow/appointments.py). The
# person's fields are sealed like a visit's; the document number is found again by its keyed hash.
# `status` is booked, arrived or cancelled (a no-show is a booking still booked after its slot
# and the site's grace period: computed, never stored).
appointments = Table(
    "appointments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(12), nullable=False),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("slot_start", UTCDateTime, nullable=False),
    Column("group_name", String(120), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("document_key", String(120), nullable=False),
    Column("person", Json, nullable=False),
    Column("status", String(20), nullable=False),
    Column("visit_id", String(32), nullable=True),
    Column("batch", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("site_id", "code"),
    Index(None, "site_id", "day", "id"),
    Index(None, "site_id", "document_key", "day"),
)

# Tables whose rows are never updated or deleted (enforced by database triggers, migration 0004).
APPEND_ONLY = ("events", "audit_log")


# The lots a site holds now (app/domain/stock.py `LotStock`), kept beside the log like `visits`:
# written in the transaction of each stock event and each injection, so the injection desk's
# rule reads the lot under the site's lock. The log is the truth; this is its fold.
lot_stocks = Table(
    "lot_stocks",
    metadata,
    Column("site_id", String(40), ForeignKey("sites.id"), primary_key=True),
    Column("lot", String(40), primary_key=True),
    Column("product", String(40), nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("data", Json, nullable=False),
    # The site's day of the lot's last event, and the lot as it was at that day's start (null: not
    # held then): the day's sheet folds that day's events only (app/flow/stock.py).
    Column("day", Date, nullable=False),
    Column("day_opening", Json, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
