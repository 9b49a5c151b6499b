"""Response headers every answer carries: no sniffing, no framing, no referrer leaks.

A view may set its own (see same_origin_frames); the rest get these.
"""
from __future__ import annotations

from flask import Flask, Response

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "Cache-Control": "no-store",
}


def same_origin_frames(response: Response) -> Response:
    """For a page that this site's own pages frame (a slip printed from a station tablet):
    framing by this origin only, instead of not at all."""
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'")
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            if name == "Cache-Control" and response.mimetype != "application/json":
                continue  # static files may be cached; JSON may hold personal data
            response.headers.setdefault(name, value)
        return response
