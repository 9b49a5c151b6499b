"""SiteFlow: the on-site flow manager for mass vaccination sites."""
from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .clock import ScaledClock, SystemClock
from .config import PROJECT_ROOT, check, from_environment
from .flow.services import Services, install, services_of
from .store.database import make_engine
from .store.event_store import Store
from .store.sealing import sealer_from_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The application factory. `config` overrides the environment (tests pass DATABASE_URL, CLOCK)."""
    app = Flask(
        __name__,
        # Where the embedded database and the development keys live.
        instance_path=os.environ.get("SITEFLOW_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.update(from_environment(app.instance_path))
    app.config.update(config or {})
    check(app.config)
    app.config["MAX_CONTENT_LENGTH"] = app.config["JSON_MAX_BYTES"]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # 张三, not \u5f20\u4e09

    engine = make_engine(app.config["DATABASE_URL"])
    sealer = sealer_from_config(app.config, app.instance_path)
    speed = float(app.config.get("CLOCK_SPEED") or 1)
    clock = app.config.get("CLOCK") or (ScaledClock(speed) if speed != 1 else SystemClock())
    if speed != 1:  # counted on the fast clock: the same real time
        app.config["IDLE_MINUTES"] *= speed
        app.config["SESSION_HOURS"] *= speed
    install(app, Services(store=Store(engine, sealer), clock=clock))

    from . import live
    from .web import (
        access,
        api,
        appointment_pages,
        audit_pages,
        auth_pages,
        compression,
        dashboard_pages,
        device_pages,
        errors,
        health,
        home,
        i18n,
        limits,
        proxies,
        security,
        sessions,
        slip_pages,
        station_pages,
        stock_pages,
        ticket_pages,
        user_pages,
    )

    proxies.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    sessions.init_app(app)
    access.init_app(app)
    limits.init_app(app)
    compression.init_app(app)
    for blueprint in (
        health.bp, api.bp, home.bp, auth_pages.bp, device_pages.bp, audit_pages.bp, user_pages.bp, slip_pages.bp,
        station_pages.bp, dashboard_pages.bp, ticket_pages.bp, appointment_pages.bp,
        stock_pages.bp,
    ):
        app.register_blueprint(blueprint)
    live.init_app(app)

    @app.context_processor
    def _clock():
        # The pages count down against the server's clock (static/js/clock.js).
        return {"server_now": services_of(app).clock.now().isoformat(),
                "clock_speed": app.config.get("CLOCK_SPEED", 1)}

    return app
