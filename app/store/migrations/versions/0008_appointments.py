"""Bookings (预约): slots, codes, groups; the person's fields sealed, found by their keyed hash.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("slot_start", UTCDateTime, nullable=False),
        sa.Column("group_name", sa.String(120), nullable=False),
        sa.Column("dose_number", sa.Integer, nullable=False),
        sa.Column("document_key", sa.String(120), nullable=False),
        sa.Column("person", Json, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("visit_id", sa.String(32), nullable=True),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
        sa.UniqueConstraint("site_id", "code", name="uq_appointments_site_id_code"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_appointments_site_id_sites"),
    )
    op.create_index("ix_appointments_site_id_day_id", "appointments", ["site_id", "day", "id"])
    op.create_index("ix_appointments_site_id_document_key_day", "appointments", ["site_id", "document_key", "day"])


def downgrade() -> None:
    op.drop_index("ix_appointments_site_id_document_key_day", table_name="appointments")
    op.drop_index("ix_appointments_site_id_day_id", table_name="appointments")
    op.drop_table("appointments")
