"""Persistence: SQLAlchemy tables, Alembic migrations, and the one place that writes."""
