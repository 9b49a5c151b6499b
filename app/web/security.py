"""Response headers every answer carries: no sniffing, no framing, no referrer leaks.

The pages (a later issue) add a strict Content-Security-Policy on top of this base.
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


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            if name == "Cache-Control" and response.mimetype != "application/json":
                continue  # static files may be cached; JSON may hold personal data
            response.headers.setdefault(name, value)
        return response
