"""Configuration from environment variables, with safe defaults for the embedded mode."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


DEV_SECRET_KEY = "dev-only-change-me"


class ConfigError(RuntimeError):
    """A setting that would be unsafe to run with."""


def check(config: dict) -> None:
    """Refuse to start production with the development secret key."""
    if config.get("SITEFLOW_ENV") == "production" and config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        raise ConfigError("SITEFLOW_ENV=production needs SITEFLOW_SECRET_KEY set to a long random value.")
    if config.get("SITEFLOW_ENV") == "production" and not (config.get("DATA_KEYS") and config.get("LOOKUP_KEY")):
        raise ConfigError("SITEFLOW_ENV=production needs SITEFLOW_DATA_KEYS and SITEFLOW_LOOKUP_KEY "
                          "(`siteflow keys generate` prints new ones; see docs/SECURITY.md).")
    if config.get("SITEFLOW_ENV") == "production" and float(config.get("CLOCK_SPEED") or 1) != 1:
        raise ConfigError("SITEFLOW_CLOCK_SPEED is for the demo: production runs on real time.")
    if bool(config.get("DATA_KEYS")) != bool(config.get("LOOKUP_KEY")):
        # Otherwise the one given would be silently ignored for the development keys.json.
        raise ConfigError("Set both SITEFLOW_DATA_KEYS and SITEFLOW_LOOKUP_KEY, or neither "
                          "(development: they are made in instance/keys.json).")


def from_environment(instance_path: str) -> dict:
    """The settings, read from the environment once, when the app is created."""
    env = os.environ
    production = env.get("SITEFLOW_ENV", "development") == "production"
    return {
        # development (default) or production; production refuses unsafe settings.
        "SITEFLOW_ENV": env.get("SITEFLOW_ENV", "development"),
        # Signs session cookies. Development: a random key made once per install (instance/secret_key).
        "SECRET_KEY": env.get("SITEFLOW_SECRET_KEY") or (DEV_SECRET_KEY if production else _instance_secret(instance_path)),
        # Default: a SQLite file in the instance folder (the embedded mode).
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'siteflow.db'}",
        # None: Socket.IO messages stay in this process. redis://... to scale out.
        "SOCKETIO_MESSAGE_QUEUE": env.get("SOCKETIO_MESSAGE_QUEUE") or None,
        "SOCKETIO_CHANNEL": env.get("SOCKETIO_CHANNEL", "siteflow"),
        # Set explicitly, never detected: `siteflow serve` uses gevent; threading is for tests and tools.
        "SOCKETIO_ASYNC_MODE": "threading",
        "SITEFLOW_SITES": env.get("SITEFLOW_SITES") or str(PROJECT_ROOT / "sites"),
        "JSON_MAX_BYTES": int(env.get("SITEFLOW_JSON_MAX_BYTES", 1_000_000)),
        # Personal data at rest (docs/SECURITY.md). Development: made once in instance/keys.json.
        "DATA_KEYS": env.get("SITEFLOW_DATA_KEYS") or None,
        "LOOKUP_KEY": env.get("SITEFLOW_LOOKUP_KEY") or None,
        # Staff sessions: signed out after this many minutes without a request, and after this
        # many hours in all (a shift), whatever happens.
        "IDLE_MINUTES": float(env.get("SITEFLOW_IDLE_MINUTES", 15)),
        "SESSION_HOURS": float(env.get("SITEFLOW_SESSION_HOURS", 12)),
        # How much faster than real time the server's clock runs (the demo; 1 in production).
        "CLOCK_SPEED": float(env.get("SITEFLOW_CLOCK_SPEED", 1)),
        # Cookies only over HTTPS; on by default in production (behind the TLS proxy).
        "SESSION_COOKIE_SECURE": _flag(env.get("SITEFLOW_SECURE_COOKIES"), production),
        # Served over TLS by this process itself (HSTS on every answer); behind nginx, its
        # X-Forwarded-Proto says so instead (with SITEFLOW_TRUSTED_PROXIES).
        "TLS": _flag(env.get("SITEFLOW_TLS"), False),
        # Browser origins besides the site's own that may open the live channel (comma-separated).
        "ALLOWED_ORIGINS": tuple(part.strip() for part in env.get("SITEFLOW_ALLOWED_ORIGINS", "").split(",")
                                 if part.strip()),
        # How many proxies in front of us set X-Forwarded-For/-Proto (0: none; nginx: 1).
        "TRUSTED_PROXIES": int(env.get("SITEFLOW_TRUSTED_PROXIES", 0)),
        # Rate-limit counters: shared in Redis when there is one, else in this process.
        "RATELIMIT_STORAGE_URI": env.get("SITEFLOW_REDIS_URL") or _redis(env.get("SOCKETIO_MESSAGE_QUEUE")) or "memory://",
        # Where phones reach this server: the start of the URL on the slips' QR codes (for example
        # https://vax.example.org). Empty: the address the check-in tablet used.
        "PUBLIC_URL": (env.get("SITEFLOW_PUBLIC_URL") or "").rstrip("/") or None,
        # The first admin's password for automated installs (`siteflow init`); else generated and printed.
        "ADMIN_PASSWORD": env.get("SITEFLOW_ADMIN_PASSWORD") or None,
    }


def _instance_secret(instance_path: str) -> str:
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(temp, path)  # atomic: whoever links first wins, the others read theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return path.read_text().strip()


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _redis(url: str | None) -> str | None:
    return url if url and url.startswith(("redis://", "rediss://")) else None
