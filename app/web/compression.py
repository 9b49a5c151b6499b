"""Static files (scripts, styles) go out compressed (Flask-Compress: brotli or gzip, as the
browser accepts): a phone on a weak network loads its live ticket page in about 20 kB instead
of 60. Pages and API answers are not compressed: they carry secrets beside what a caller
typed (CSRF tokens, codes), which compression would let an eavesdropper guess (BREACH)."""
from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

compress = Compress()


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_REGISTER", False)  # not every answer: only the static files
    app.config.setdefault("COMPRESS_MIMETYPES", ["text/css", "text/javascript", "application/javascript",
                                                 "image/svg+xml"])
    # Static files are sent as streams: gzip for those too (old phones, and plain HTTP, offer no brotli).
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["zstd", "br", "gzip", "deflate"])
    compress.init_app(app)

    @app.after_request
    def _static(response: Response) -> Response:
        return compress.after_request(response) if request.endpoint == "static" else response
