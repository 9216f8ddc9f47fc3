"""schemathesis against /openapi.json: generated requests never get a 5xx or break the schema.

Bounded on purpose (a few examples per operation) so it stays a test, not a campaign; it
runs as admin so every operation is reached. The operations are driven from Python
(`as_strategy`) because schemathesis' pytest plugin does not load under pytest 9.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import Service

pytestmark = pytest.mark.slow
EXAMPLES = 12


def test_no_server_error_and_no_schema_violation(service: Service) -> None:
    schema = schemathesis.openapi.from_url(service.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {service.tokens['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    # DELETE last: a generated id may revoke the admin's own token (ids start at 1), after
    # which every request answers 401; the other operations must have run by then.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=service.url,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
            )

        check()
