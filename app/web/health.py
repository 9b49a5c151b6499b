from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from .access import public
from .context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """Liveness and database reachability, without a token."""
    with services().store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
