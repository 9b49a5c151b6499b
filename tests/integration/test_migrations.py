"""The database is built by Alembic migrations, and the result matches the models."""
from __future__ import annotations

from datetime import UTC, datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from app.store.database import make_engine
from app.store.migrate import alembic_config, current_revision, upgrade
from app.store.tables import APPEND_ONLY, audit_log, events, metadata, sites

HEAD = "0009"


def test_upgrade_from_empty_to_head_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == HEAD
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
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_append_only_tables_refuse_update_and_delete_in_the_database_itself(database_url, table):
    """Events and the audit log are never changed: even SQL typed by hand is refused."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            if table == "events":
                conn.execute(sites.insert().values(id="s", name="S", config={}, revision=1, seq=1, ticket_day=None,
                                                   ticket_no=0, created_at=now, updated_at=now))
                conn.execute(events.insert().values(site_id="s", seq=1, visit_id="v", type="checked_in",
                                                    actor="a", at=now, data={}))
            else:
                conn.execute(audit_log.insert().values(at=now, actor="a", action="auth.login", outcome="ok",
                                                       detail={}))
        for statement in (f"UPDATE {table} SET actor = 'mallory'", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT actor FROM {table}")).scalars().all() == ["a"]
    finally:
        engine.dispose()
