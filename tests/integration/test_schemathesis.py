"""Schemathesis generates requests from our own OpenAPI document: no 500s, no answer that breaks it.

Runs in CI with a bounded number of examples per operation, against SQLite, with an admin
token (every operation reachable) so generated data reaches the handlers, not just the door.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode

from app.clock import FixedClock
from app.flow import tokens as token_flow
from app.flow.services import services_of
from tests.conftest import START, build_app
from tests.support.factories import gen_checkin

MAX_EXAMPLES = 25
# No 500s; status codes, content types and bodies as documented. Not "positive data acceptance":
# our bodies are stricter than JSON Schema on purpose (3.0 is not a dose number; see schemas.py).
CHECKS = [
    checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
    checks.response_schema_conformance, checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    app = build_app(f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'siteflow.db'}", FixedClock(START))
    yield app
    app.extensions["siteflow_live"].stop()
    services_of(app).store.engine.dispose()


@pytest.fixture(scope="module")
def admin_token(api_app) -> str:
    return token_flow.create_token(services_of(api_app), role="admin", site_id=None, station=None,
                                   name="schemathesis")


@pytest.fixture(scope="module")
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_every_answer_matches_the_document(api_schema, admin_token, mode):
    """Positive: values the document allows. Negative: values it forbids (query parameters
    out of their models' ranges and types, bodies breaking their schemas), which must be
    refused with a documented 4xx."""
    # (schemathesis's own pytest plugin does not load under this pytest; its strategies do.)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 17, "the document lost operations"
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)


def test_sequences_of_calls_along_the_documents_links(tmp_path):
    """Stateful: check someone in, then follow the document's links (read the visit, run any
    command on it) with generated bodies, in sequences of a few steps. No 500s; every answer
    as documented, whatever state the visit has reached."""
    document_app = build_app(f"sqlite:///{tmp_path / 'document.db'}", FixedClock(START))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", document_app)
    scenarios = iter(range(10**6))
    failures: list[str] = []

    class Machine(schema.as_state_machine()):
        def setup(self):
            # Each sequence on an app and database of its own: hypothesis replays a sequence and
            # expects the same answers (an app carried over between sequences made CI flaky:
            # a queue or seat left full by one sequence changed what the next could draw).
            self.app = build_app(f"sqlite:///{tmp_path / f'scenario-{next(scenarios)}.db'}", FixedClock(START))
            token = token_flow.create_token(services_of(self.app), role="admin", site_id=None, station=None,
                                            name="stateful")
            self.headers = {"Authorization": f"Bearer {token}"}

        def teardown(self):
            self.app.extensions["siteflow_live"].stop()
            services_of(self.app).store.engine.dispose()

        def get_call_kwargs(self, case):
            return {"app": self.app}

        def before_call(self, case):
            # The demo site, so that calls reach the flow; the admin's token on every call.
            if "site" in (case.path_parameters or {}):
                case.path_parameters["site"] = "demo"
            case.headers = {**(case.headers or {}), **self.headers}
            if case.operation.label == "POST /sites/{site}/visits":
                case.body = gen_checkin()  # a person who gets a ticket, whose visit the links then follow

        def validate_response(self, response, case, **kwargs):
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # noqa: BLE001 - collected and reported after the run, as it happened
                failures.append(f"{case.operation.label} -> {response.status_code}: {str(exc)[:1500]}")

    try:
        Machine.run(settings=settings(max_examples=MAX_EXAMPLES, stateful_step_count=6, deadline=None,
                                      suppress_health_check=list(HealthCheck), database=None,
                                      phases=[Phase.explicit, Phase.generate]))
    finally:
        document_app.extensions["siteflow_live"].stop()
        services_of(document_app).store.engine.dispose()
    assert not failures, "\n\n".join(failures[:5])
