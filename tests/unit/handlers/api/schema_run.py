"""Schemathesis against a running API: cases generated from its own /openapi.json.

Run in a thread (schemathesis calls with `requests`, which blocks), while the server runs on
the test's event loop.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _check(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], examples: int
) -> None:
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        case.validate_response(response, checks=checks)

    check()


def run(base_url: str, headers: dict[str, str], *, examples: int = 30) -> list[str]:
    """Every operation, valid and invalid cases (for those that take input); the labels of
    the operations checked."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        definition = operation.definition.raw
        takes_input = "requestBody" in definition or "parameters" in definition
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
        for mode in modes:
            _check(operation, mode, base_url, headers, examples)
        checked.append(operation.label)
    return checked
