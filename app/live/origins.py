"""Which browser origins may open a live connection: the site's own, and those configured in
SITEFLOW_ALLOWED_ORIGINS. A page on any other origin could otherwise ride a signed-in
supervisor's cookie and receive full records.

Checked by Engine.IO on every request, before any data is sent (the refusal is a 400). A
request without an Origin header does not come from a browser page (scripts, the tablets'
bearer clients) and carries no ambient cookie risk: it is let through to authentication.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.flow import audit
from app.flow.services import services_of

log = logging.getLogger(__name__)


def _own_origin(environ: dict, trusted_proxies: int) -> str:
    """scheme://host of this request, as the browser addressed it (through trusted proxies only)."""
    if trusted_proxies:
        seen: dict = {}
        ProxyFix(lambda env, _start: seen.update(env), x_proto=trusted_proxies, x_host=trusted_proxies)(
            dict(environ), None)
        environ = seen
    return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"


def origin_check(app: Flask) -> Callable[[str | None, dict], bool]:
    allowed = {origin.rstrip("/") for origin in app.config.get("ALLOWED_ORIGINS", ())}
    hops = app.config.get("TRUSTED_PROXIES", 0)

    def check(origin: str | None, environ: dict) -> bool:
        if origin is None or origin in allowed or origin == _own_origin(environ, hops):
            return True
        log.warning("live connection refused: origin %s is not allowed", origin[:200])
        with app.app_context():
            audit.record(services_of(app), "anonymous", "live.origin_refused", outcome=audit.Outcome.REFUSED,
                         subject=f"origin:{origin[:120]}", detail={"origin": origin[:200]},
                         remote_addr=environ.get("REMOTE_ADDR"))
        return False

    return check
