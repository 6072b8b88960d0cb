"""The multi-provider LLM client against local OpenAI- and Anthropic-compatible servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from services.drafting.llm import LLMClient
from services.errors import GenerationUnavailable
from services.models import Deployment
from tests.support.emulators.base import Fault
from tests.support.emulators.llm import FakeLLM, openai_error_body

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@pytest.fixture
async def providers() -> AsyncIterator[tuple[FakeLLM, FakeLLM]]:
    """An OpenAI-compatible and an Anthropic-compatible fake, started."""
    async with FakeLLM("openai") as openai, FakeLLM("anthropic") as anthropic:
        openai.reply_with("from openai")
        anthropic.reply_with("from anthropic")
        yield openai, anthropic


def client(
    openai: FakeLLM, anthropic: FakeLLM, *, timeout: float = 3, cooldown: float = 30
) -> LLMClient:
    """Primary: the OpenAI fake; fallback: the Anthropic fake."""
    return LLMClient(
        [
            Deployment(
                name="primary",
                model="openai/gpt-4o-mini",
                params={"api_base": f"{openai.url}/v1", "api_key": "sk-openai-test"},
            ),
            Deployment(
                name="secondary",
                model="anthropic/claude-3-5-haiku-latest",
                params={"api_base": anthropic.url, "api_key": "sk-ant-test"},
            ),
        ],
        timeout=timeout,
        cooldown=cooldown,
    )


async def test_primary_answers(providers: tuple[FakeLLM, FakeLLM]) -> None:
    """A healthy primary answers; no fallback is recorded and the fallback is not called."""
    openai, anthropic = providers
    completion = await client(openai, anthropic).complete(MESSAGES)
    assert completion.text == "from openai"
    assert (completion.provider, completion.model) == ("openai", "gpt-4o-mini")
    assert not completion.fallback_used
    assert openai.requests[0].system == "Be brief."
    assert anthropic.requests == []


async def test_server_error_falls_back_to_the_next_provider(
    providers: tuple[FakeLLM, FakeLLM],
) -> None:
    """The primary answers 500: the Anthropic provider answers and the fallback is recorded."""
    openai, anthropic = providers
    openai.fail(Fault(status=500))
    completion = await client(openai, anthropic).complete(MESSAGES)
    assert completion.text == "from anthropic"
    assert (completion.provider, completion.deployment) == ("anthropic", "secondary")
    assert completion.fallback_used
    assert len(openai.requests) == 1, "one retry layer: litellm must not retry by itself"
    assert anthropic.requests[0].system == "Be brief."


async def test_every_provider_failing_is_generation_unavailable(
    providers: tuple[FakeLLM, FakeLLM],
) -> None:
    """Both providers fail (500 and 429): the project's own error, naming each failure."""
    openai, anthropic = providers
    openai.fail_always(Fault(status=500))
    anthropic.fail_always(Fault(status=429))
    with pytest.raises(GenerationUnavailable) as raised:
        await client(openai, anthropic).complete(MESSAGES)
    assert [name for name, _ in raised.value.failures] == ["primary", "secondary"]
    assert (len(openai.requests), len(anthropic.requests)) == (1, 1)


async def test_unreachable_and_hanging_providers_fail_within_the_timeout(
    providers: tuple[FakeLLM, FakeLLM],
) -> None:
    """A refused connection and a hanging server both count as failures, bounded by timeout."""
    openai, anthropic = providers
    await openai.stop()
    anthropic.fail_always(Fault(delay=30))
    started = time.monotonic()
    with pytest.raises(GenerationUnavailable) as raised:
        await client(openai, anthropic, timeout=0.5).complete(MESSAGES)
    assert time.monotonic() - started < 5
    reasons = dict(raised.value.failures)
    assert reasons["secondary"] == "timeout"


async def test_a_failing_provider_is_skipped_during_its_cooldown(
    providers: tuple[FakeLLM, FakeLLM],
) -> None:
    """After 2 failures in a row the primary is skipped until the cool-down ends, then tried."""
    openai, anthropic = providers
    openai.fail_always(Fault(status=503))
    llm = client(openai, anthropic, cooldown=0.5)
    for _ in range(2):
        assert (await llm.complete(MESSAGES)).deployment == "secondary"
    assert len(openai.requests) == 2
    for _ in range(3):
        assert (await llm.complete(MESSAGES)).fallback_used
    assert len(openai.requests) == 2, "an open circuit sends no request"
    openai.recover()
    await asyncio.sleep(0.6)
    assert (await llm.complete(MESSAGES)).deployment == "primary"
    assert len(openai.requests) == 3


async def test_empty_answer_counts_as_a_failure(providers: tuple[FakeLLM, FakeLLM]) -> None:
    """A provider answering with no text is passed over."""
    openai, anthropic = providers
    openai.reply_with("   ")
    assert (await client(openai, anthropic).complete(MESSAGES)).text == "from anthropic"


async def test_after_the_cooldown_only_one_trial_request_goes_out(
    providers: tuple[FakeLLM, FakeLLM],
) -> None:
    """When the cool-down ends, concurrent drafts send one trial to the failing provider; the
    others go straight to the fallback instead of waiting on it too."""
    openai, anthropic = providers
    openai.fail_always(Fault(delay=30))
    llm = client(openai, anthropic, timeout=0.5, cooldown=0.3)
    for _ in range(2):
        await llm.complete(MESSAGES)
    await asyncio.sleep(0.35)
    results = await asyncio.gather(*(llm.complete(MESSAGES) for _ in range(4)))
    assert len(openai.requests) == 3, "two failures, then a single trial"
    assert all(result.deployment == "secondary" for result in results)


CONTENT_FILTER = openai_error_body(
    400, "The response was filtered due to the prompt triggering content management policy."
)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=400, json=CONTENT_FILTER),
        Fault(status=400),
        Fault(status=404),
        Fault(status=422),
    ],
)
async def test_errors_the_request_caused_never_open_the_circuit(
    providers: tuple[FakeLLM, FakeLLM], fault: Fault
) -> None:
    """A 4xx the request caused (a content filter, a bad request) falls back for that request
    but doesn't count against the provider: after three in a row it is still asked first."""
    openai, anthropic = providers
    openai.fail(fault, times=3)
    llm = client(openai, anthropic)
    for _ in range(3):
        assert (await llm.complete(MESSAGES)).deployment == "secondary"
    assert (await llm.complete(MESSAGES)).deployment == "primary"
    assert len(openai.requests) == 4


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_errors_that_say_the_provider_is_unwell_open_the_circuit(
    providers: tuple[FakeLLM, FakeLLM], status: int
) -> None:
    """Rejected credentials, rate limits and server errors count: after two the provider is
    skipped."""
    openai, anthropic = providers
    openai.fail_always(Fault(status=status))
    llm = client(openai, anthropic)
    for _ in range(3):
        assert (await llm.complete(MESSAGES)).deployment == "secondary"
    assert len(openai.requests) == 2
