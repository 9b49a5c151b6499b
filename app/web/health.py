from __future__ import annotations

from flask import Blueprint, jsonify

from app.flow import maintenance

from .access import public
from .context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """Liveness and database reachability, without a token."""
    maintenance.database_answers(services())
    return jsonify({"status": "ok"})
