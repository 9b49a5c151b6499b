"""Live push over Socket.IO: rooms, snapshots, sequenced deltas, and the privacy filter.

`socketio` is created here and bound in the factory (`init_app`). The flow commands know
nothing of it: the hub subscribes to `Services.listeners` and is told of every commit.
"""
from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO

socketio = SocketIO()


def init_app(app: Flask) -> None:
    from app.flow.services import services_of

    from . import handlers  # noqa: F401  (registers the Socket.IO event handlers)
    from .hub import LiveHub
    from .origins import origin_check
    from .queue import client_manager

    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        # Always given (None: in-process), so no manager of an earlier app is reused.
        client_manager=client_manager(app.config["SOCKETIO_MESSAGE_QUEUE"], app.config["SOCKETIO_CHANNEL"]),
        # Browsers may connect from the site's own origin and the configured ones (origins.py).
        cors_allowed_origins=origin_check(app),
        ping_interval=10,
        ping_timeout=10,
        logger=False,
        engineio_logger=False,
    )
    hub = LiveHub(app, socketio)
    app.extensions["siteflow_live"] = hub
    services_of(app).listeners.append(hub.on_commit)
