"""Schemathesis against `/openapi.json` on the in-process app (no network): for every
operation, a few deterministic generated requests with valid tokens, and no 5xx, no
undocumented status and no response that breaks its declared schema or media type."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.conftest import Deal

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "manufacturer_1"])
def test_generated_requests_find_no_server_error_and_no_schema_violation(
        deal: Deal, who: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", deal.client.app)
    headers = deal.headers(who)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 30
    for operation in operations:

        @settings(max_examples=5, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        call()
