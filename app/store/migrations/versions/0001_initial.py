"""Initial schema: sites, visits, events, api_tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ticket_day", sa.Date(), nullable=True),
        sa.Column("ticket_no", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ticket", sa.String(12), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("station", sa.String(20), nullable=True),
        sa.Column("desk", sa.String(20), nullable=True),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("queue_pos", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("document_key", sa.String(120), nullable=False),
        sa.Column("leave_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_visits"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_visits_site_id_sites"),
        sa.UniqueConstraint("site_id", "day", "ticket", name="uq_visits_site_id_day_ticket"),
    )
    op.create_index(
        "ix_visits_site_id_station_state_priority_queue_pos",
        "visits",
        ["site_id", "station", "state", "priority", "queue_pos"],
    )
    op.create_index("ix_visits_site_id_active", "visits", ["site_id", "active"])
    op.create_index("ix_visits_document_key_day", "visits", ["document_key", "day"])
    op.create_table(
        "events",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("visit_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("station", sa.String(20), nullable=True),
        sa.Column("desk", sa.String(20), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_events_site_id_sites"),
        sa.UniqueConstraint("site_id", "seq", name="uq_events_site_id_seq"),
        sa.UniqueConstraint("site_id", "idempotency_key", name="uq_events_site_id_idempotency_key"),
    )
    op.create_index("ix_events_visit_id_seq", "events", ["visit_id", "seq"])
    op.create_index("ix_events_site_id_at", "events", ["site_id", "at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=True),
        sa.Column("station", sa.String(20), nullable=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_api_tokens_site_id_sites"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index("ix_events_site_id_at", table_name="events")
    op.drop_index("ix_events_visit_id_seq", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_visits_document_key_day", table_name="visits")
    op.drop_index("ix_visits_site_id_active", table_name="visits")
    op.drop_index("ix_visits_site_id_station_state_priority_queue_pos", table_name="visits")
    op.drop_table("visits")
    op.drop_table("sites")
