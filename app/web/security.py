"""Response headers every answer carries: no sniffing, no framing, no referrer leaks, no
caching of anything but the static files, and HSTS when served over TLS.

A view may set its own (see same_origin_frames); the rest get these.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
}
# Pages, JSON, CSV and XLSX may hold personal data, and tablets are shared: nothing of them
# is kept in a browser's cache. Only files under static/ (no personal data) may be cached.
NO_STORE = "no-store"
HSTS = "max-age=31536000; includeSubDomains"  # a year; tablets and TVs then never try plain HTTP


def same_origin_frames(response: Response) -> Response:
    """For a page that this site's own pages frame (a slip printed from a station tablet):
    framing by this origin only, instead of not at all."""
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'")
    return response


def served_over_tls() -> bool:
    """TLS here (SITEFLOW_TLS=1), or at a trusted proxy that said so (X-Forwarded-Proto, which
    only counts with SITEFLOW_TRUSTED_PROXIES set: app/web/proxies.py)."""
    return bool(current_app.config.get("TLS")) or request.scheme == "https"


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = NO_STORE
        if served_over_tls():
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
