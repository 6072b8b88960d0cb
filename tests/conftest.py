"""Fixtures shared by every test: a clean environment, and the emulated world for e2e tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

# The throwaway PostgreSQL server (a session fixture), a fresh database per test, and the
# run's one loud line when the server is missing.
from tests.support.postgres import (
    postgres_server,  # noqa: F401
    postgres_url,  # noqa: F401
    pytest_terminal_summary,  # noqa: F401
)

# Every variable that could leak from the machine into a test's settings.
_PREFIXES = (
    "SLACK_",
    "SOCIALPOST_",
    "X_",
    "LINKEDIN_",
    "INSTAGRAM_",
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "LOG_",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """No proxies (slack_sdk ignores NO_PROXY), no stray settings, no .env from the checkout."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))


@pytest.fixture
async def world() -> AsyncIterator[object]:
    """The emulated services (Slack, two LLM providers, X, LinkedIn, Instagram), started."""
    from tests.support.harness import World

    async with World() as started:
        yield started
