"""Data keys for sealed personal data: one per site and day, wrapped by the master key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("wrapped", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_keys"),
        sa.UniqueConstraint("site_id", "day", name="uq_data_keys_site_id_day"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_data_keys_site_id_sites"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("data_keys")
