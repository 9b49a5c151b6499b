"""Every answer carries the protective headers; nothing but static files is ever cached; HSTS
over TLS."""
from __future__ import annotations

from tests.conftest import build_app
from tests.support.factories import gen_checkin


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


def test_no_answer_but_a_static_file_may_be_cached_a_sweep_over_the_url_map(app, api, client, tokens):
    """Every GET route, as a signed-in supervisor (pages) and with a bearer token (API): HTML,
    JSON, CSV and XLSX answers, and errors too, all carry Cache-Control: no-store."""
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    values = {"site": "demo", "visit_id": visit["id"], "station": "consent", "token_id": "1", "username": "nobody",
              "filename": "js/live.js", "code": "000000"}
    seen = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule.build({name: values.get(name, "x") for name in rule.arguments}, append_unknown=False)[1]
        for query in ("", "?format=csv", "?format=xlsx"):
            response = client.get(path + query, headers={"Authorization": f"Bearer {tokens.admin}"})
            assert response.headers.get("Cache-Control") == "no-store", (path + query, response.status_code)
            response.close()
            seen += 1
    assert seen > 60


def test_hsts_only_over_tls_here_or_at_a_trusted_proxy(database_url, clock, api):
    plain = api.get("/sites/demo")
    assert "Strict-Transport-Security" not in plain.headers
    proxied = api.client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in proxied.headers  # no proxy is trusted by default
    for config in ({"TLS": True}, {"TRUSTED_PROXIES": 1}):
        app = build_app(database_url, clock, **config)
        try:
            answer = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
            assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        finally:
            app.extensions["siteflow_live"].stop()
            app.extensions["siteflow"].store.engine.dispose()
