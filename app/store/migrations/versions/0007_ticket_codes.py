"""The codes of the people's live tickets on their phones (/t/<code>), stored as hashes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTCDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ticket_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("visit_id", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("issued_by", sa.String(160), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("first_opened_at", UTCDateTime, nullable=True),
        sa.Column("opens", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_codes"),
        sa.UniqueConstraint("code_hash", name="uq_ticket_codes_code_hash"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_ticket_codes_site_id_sites"),
    )
    op.create_index("ix_ticket_codes_site_id_visit_id", "ticket_codes", ["site_id", "visit_id"])
    op.create_index("ix_ticket_codes_site_id_day", "ticket_codes", ["site_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_ticket_codes_site_id_day", table_name="ticket_codes")
    op.drop_index("ix_ticket_codes_site_id_visit_id", table_name="ticket_codes")
    op.drop_table("ticket_codes")
