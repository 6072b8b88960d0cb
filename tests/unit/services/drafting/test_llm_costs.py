"""The LLM client reports each answer's tokens and cost, from what the provider reported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import litellm
import pytest

from services.drafting.cost import NANO
from services.drafting.llm import LLMClient
from services.models import Deployment
from tests.support.emulators.llm import FakeLLM

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    """An OpenAI-compatible fake provider."""
    async with FakeLLM("openai") as server:
        server.reply_with("A short post about our launch.")
        yield server


def client(fake: FakeLLM, model: str, **params: object) -> LLMClient:
    """One deployment of `model` on the fake, with extra litellm_params."""
    deployment = Deployment(
        name="only",
        model=model,
        params={"api_base": f"{fake.url}/v1", "api_key": "sk-test", **params},
    )
    return LLMClient([deployment], timeout=5, cooldown=30)


async def test_a_mapped_models_cost_is_its_reported_tokens_at_litellms_prices(
    fake: FakeLLM,
) -> None:
    """gpt-4o-mini's cost is the tokens the provider reported times litellm's map prices."""
    completion = await client(fake, "openai/gpt-4o-mini").complete(MESSAGES)
    assert fake.requests[0].usage is not None
    prompt, answer = fake.requests[0].usage
    prices = litellm.model_cost["gpt-4o-mini"]
    expected = (
        prompt * Decimal(repr(prices["input_cost_per_token"]))
        + answer * Decimal(repr(prices["output_cost_per_token"]))
    ).quantize(NANO)
    assert (completion.prompt_tokens, completion.completion_tokens) == (prompt, answer)
    assert completion.cost == expected > 0


async def test_config_prices_cost_a_self_hosted_model_and_are_not_sent(fake: FakeLLM) -> None:
    """A model litellm doesn't know costs its config prices per token; the prices are never
    sent to the provider."""
    llm = client(fake, "openai/our-llama", input_cost_per_token=1e-6, output_cost_per_token=3e-6)
    completion = await llm.complete(MESSAGES)
    assert fake.requests[0].usage is not None
    prompt, answer = fake.requests[0].usage
    assert completion.cost == Decimal(prompt) * Decimal("0.000001") + answer * Decimal("0.000003")
    assert "input_cost_per_token" not in fake.requests[0].body


async def test_an_unpriced_model_or_missing_usage_is_cost_unknown(fake: FakeLLM) -> None:
    """A model without prices, or an answer without usage, has an unknown cost (None)."""
    assert (await client(fake, "openai/our-llama").complete(MESSAGES)).cost is None
    fake.report_usage(False)
    unreported = await client(fake, "openai/gpt-4o-mini").complete(MESSAGES)
    assert unreported.cost is None
    assert unreported.prompt_tokens is None
