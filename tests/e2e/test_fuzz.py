"""Property-based fuzzing of every route from the app's own OpenAPI schema, as every role (admin,
finance, auditor, manager, rep): whatever the input, no 5xx, and every answer has a documented
status, content type and body shape. A few cases per operation and role here, some 300+ per role
in all (FUZZ_EXAMPLES raises it; `make fuzz` runs more)."""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from application.demo import load_demo
from tests.conftest import ADMIN_TOKEN
from tests.helpers import bearer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
EXPLORE = "FUZZ_EXAMPLES" in os.environ  # `make test` replays the same cases; `make fuzz` explores new ones


def test_no_route_answers_a_server_error(client):
    load_demo(client.app.state.runtime.ledger, seed=2, reps=6, deals=20)
    head = client.app.state.runtime.source.head()
    nodes = client.get("/org", params={"min_position": head}).json()["nodes"]
    callers = {
        "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "finance": bearer(client, "finance"),
        "auditor": bearer(client, "auditor"),
        "manager": bearer(client, "manager", next(n["rep_id"] for n in nodes if n["level"] == "manager")),
        "rep": bearer(client, "rep", next(n["rep_id"] for n in nodes if n["level"] == "mid")),
    }
    cases = dict.fromkeys(callers, 0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=not EXPLORE,
        )
        def fuzz(case):
            for role, headers in callers.items():  # every role: the admin sees all, the others are scoped
                cases[role] += 1
                case.call_and_validate(
                    headers=headers,
                    checks=[
                        not_a_server_error,
                        status_code_conformance,
                        content_type_conformance,
                        response_schema_conformance,
                    ],
                )

        fuzz()
    assert len(set(cases.values())) == 1, cases  # every role met every case
    assert EXAMPLES < 4 or cases["rep"] >= 300, cases
