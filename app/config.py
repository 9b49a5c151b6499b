"""Configuration from environment variables, with safe defaults for the embedded mode."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


DEV_SECRET_KEY = "dev-only-change-me"


class ConfigError(RuntimeError):
    """A setting that would be unsafe to run with."""


def check(config: dict) -> None:
    """Refuse to start production with the development secret key."""
    if config.get("SITEFLOW_ENV") == "production" and config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        raise ConfigError("SITEFLOW_ENV=production needs SITEFLOW_SECRET_KEY set to a long random value.")


def from_environment(instance_path: str) -> dict:
    """The settings, read from the environment once, when the app is created."""
    env = os.environ
    return {
        # development (default) or production; production refuses unsafe settings.
        "SITEFLOW_ENV": env.get("SITEFLOW_ENV", "development"),
        "SECRET_KEY": env.get("SITEFLOW_SECRET_KEY", DEV_SECRET_KEY),
        # Default: a SQLite file in the instance folder (the embedded mode).
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'siteflow.db'}",
        # None: Socket.IO messages stay in this process. redis://... to scale out.
        "SOCKETIO_MESSAGE_QUEUE": env.get("SOCKETIO_MESSAGE_QUEUE") or None,
        "SOCKETIO_CHANNEL": env.get("SOCKETIO_CHANNEL", "siteflow"),
        # Set explicitly, never detected: `siteflow serve` uses gevent; threading is for tests and tools.
        "SOCKETIO_ASYNC_MODE": "threading",
        "SITEFLOW_SITES": env.get("SITEFLOW_SITES") or str(PROJECT_ROOT / "sites"),
        "JSON_MAX_BYTES": int(env.get("SITEFLOW_JSON_MAX_BYTES", 1_000_000)),
    }
