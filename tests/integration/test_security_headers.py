"""Every answer carries the protective headers; JSON is never cached."""
from __future__ import annotations


def test_api_answers_carry_the_security_headers_and_are_not_cached(api):
    for response in (api.get("/sites/demo"), api.get("/sites/nowhere"), api.client.get("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached_but_keep_the_other_headers(client):
    response = client.get("/static/js/live.js")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


def test_a_too_large_body_is_a_413_json_error(api, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = api.post("/sites/demo/visits", raw="{" + " " * 2000 + "}")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"
