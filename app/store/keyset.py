"""Lists read a page at a time by keyset: the rows after the last id shown, never by offset, so
the thousandth page costs what the first does."""
from __future__ import annotations

from sqlalchemy import Column, Connection, Row, Select


def page_by_id(conn: Connection, query: Select, id_column: Column, *, after: int, limit: int,
               ) -> tuple[list[Row], int | None]:
    """Up to `limit` rows of `query` with an id above `after`, in id order, and the last id shown
    when another page follows (None at the end): reads one row more than it returns, to know."""
    rows = conn.execute(query.where(id_column > after).order_by(id_column).limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
