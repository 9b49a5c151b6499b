"""Vaccine stock: the lots each site holds, the fold of its stock events and injections.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lot_stocks",
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("lot", sa.String(40), nullable=False),
        sa.Column("product", sa.String(40), nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("day_opening", Json, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "lot", name="pk_lot_stocks"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_lot_stocks_site_id_sites"),
    )


def downgrade() -> None:
    op.drop_table("lot_stocks")
