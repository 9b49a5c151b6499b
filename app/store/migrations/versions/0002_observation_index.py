"""Index visits by (state, leave_at): the live hub looks for observations ending soon.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_visits_state_leave_at", "visits", ["state", "leave_at"])


def downgrade() -> None:
    op.drop_index("ix_visits_state_leave_at", table_name="visits")
