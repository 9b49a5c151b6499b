"""The database is built by Alembic migrations, and the result matches the models."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.store.database import make_engine
from app.store.migrate import alembic_config, current_revision, upgrade
from app.store.tables import metadata


def test_upgrade_from_empty_to_head_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0002"
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        assert set(inspect(engine).get_table_names()) >= {"sites", "visits", "events", "api_tokens"}
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        command.downgrade(alembic_config(engine), "base")
        assert not set(inspect(engine).get_table_names()) & {"sites", "visits", "events", "api_tokens"}
        upgrade(engine)
        assert current_revision(engine) == "0002"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == "0002"
    finally:
        engine.dispose()
