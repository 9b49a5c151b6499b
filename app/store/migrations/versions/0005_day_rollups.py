"""Day rollups: a finished day's figures per site, for the city's trends and past rankings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "day_rollups",
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("doses", sa.Integer, nullable=False),
        sa.Column("figures", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "day", name="pk_day_rollups"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_day_rollups_site_id_sites"),
    )


def downgrade() -> None:
    op.drop_table("day_rollups")
