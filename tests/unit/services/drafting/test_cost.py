"""An LLM call's cost by litellm's own calculation: its price map, or the config's own prices;
unknown (never $0) when litellm can't tell."""

from __future__ import annotations

from decimal import Decimal

import litellm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.drafting.cost import NANO, Spend, call_cost, call_params, custom_prices

MAPPED = "openai/gpt-4o-mini"
SELF_HOSTED = "openai/our-llama-70b"


def response(prompt_tokens: int | None, completion_tokens: int | None) -> litellm.ModelResponse:
    """A completion as litellm returns it, with the usage a provider reported."""
    answer = litellm.ModelResponse(
        model="whatever-the-provider-says",
        choices=[{"message": {"role": "assistant", "content": "A draft."}}],
    )
    if prompt_tokens is None:
        answer.usage = None
    else:
        answer.usage = litellm.Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens or 0,
            total_tokens=prompt_tokens + (completion_tokens or 0),
        )
    return answer


def expected(prompt: int, completion: int, input_price: float, output_price: float) -> Decimal:
    return (
        Decimal(prompt) * Decimal(repr(input_price))
        + Decimal(completion) * Decimal(repr(output_price))
    ).quantize(NANO)


def test_a_mapped_model_costs_what_litellms_price_map_says() -> None:
    """gpt-4o-mini's cost is its tokens times the prices in litellm's own map."""
    prices = litellm.model_cost["gpt-4o-mini"]
    cost = call_cost(response(1000, 500), model=MAPPED, params={})
    assert cost == expected(
        1000, 500, prices["input_cost_per_token"], prices["output_cost_per_token"]
    )
    assert cost is not None and cost > 0


def test_config_prices_price_a_self_hosted_model() -> None:
    """input_cost_per_token / output_cost_per_token from litellm_params price a model litellm
    doesn't know."""
    params = {
        "api_base": "http://llm.internal/v1",
        "input_cost_per_token": 2e-7,
        "output_cost_per_token": "0.0000008",
    }
    assert call_cost(response(1200, 300), model=SELF_HOSTED, params=params) == Decimal("0.00048")


def test_config_prices_override_the_price_map() -> None:
    """A config's own prices win over litellm's for a model it knows (a negotiated rate)."""
    params = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    assert call_cost(response(10, 20), model=MAPPED, params=params) == Decimal("0.00005")


def test_a_model_litellm_cant_price_has_no_cost() -> None:
    """An unknown model without config prices is "cost unknown" (None), not $0."""
    assert call_cost(response(1000, 500), model=SELF_HOSTED, params={}) is None


@pytest.mark.parametrize(("prompt", "completion"), [(None, None), (0, 0)])
def test_an_answer_without_token_usage_has_no_cost(
    prompt: int | None, completion: int | None
) -> None:
    """litellm would price an answer without usage at $0: here it is unknown."""
    assert call_cost(response(prompt, completion), model=MAPPED, params={}) is None


def test_prices_never_reach_litellms_process_wide_price_map() -> None:
    """The config's prices are stripped from the call and leave litellm's map untouched, so one
    deployment's prices can't leak into another's."""
    params = {"api_key": "k", "input_cost_per_token": 1.0, "output_cost_per_token": 1.0}
    before = dict(litellm.model_cost.get("gpt-4o-mini", {}))
    call_cost(response(1, 1), model=MAPPED, params=params)
    assert litellm.model_cost.get("gpt-4o-mini", {}) == before
    assert SELF_HOSTED not in litellm.model_cost
    assert call_params(params) == {"api_key": "k"}


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"input_cost_per_token": 1e-6}, "not output_cost_per_token"),
        ({"output_cost_per_token": 1e-6}, "not input_cost_per_token"),
        ({"input_cost_per_token": -1, "output_cost_per_token": 1}, "must be a number"),
        ({"input_cost_per_token": "cheap", "output_cost_per_token": 1}, "must be a number"),
        ({"input_cost_per_token": True, "output_cost_per_token": 1}, "must be a number"),
        ({"input_cost_per_token": float("nan"), "output_cost_per_token": 1}, "must be a number"),
    ],
)
def test_half_or_malformed_prices_are_refused(params: dict[str, object], problem: str) -> None:
    """Prices come in pairs of non-negative numbers; anything else is a config problem."""
    with pytest.raises(ValueError, match=problem):
        custom_prices(params)


def test_no_prices_given_means_litellms_own() -> None:
    """A config entry without prices leaves pricing to litellm's map."""
    assert custom_prices({"api_base": "x", "input_cost_per_token": None}) is None


prices = st.decimals(min_value=0, max_value=Decimal("0.001"), places=12)


@given(
    prompt=st.integers(min_value=1, max_value=200_000),
    completion=st.integers(min_value=0, max_value=50_000),
    input_price=prices,
    output_price=prices,
)
def test_cost_is_tokens_times_prices(
    prompt: int, completion: int, input_price: Decimal, output_price: Decimal
) -> None:
    """For any usage and prices, the cost is prompt x input price + completion x output price
    (to the nano-dollar, allowing for litellm's float arithmetic)."""
    params = {
        "input_cost_per_token": float(input_price),
        "output_cost_per_token": float(output_price),
    }
    cost = call_cost(response(prompt, completion), model=SELF_HOSTED, params=params)
    exact = prompt * input_price + completion * output_price
    assert cost is not None
    assert abs(cost - exact) <= max(NANO * 2, exact * Decimal("1e-12"))


costs = st.lists(st.none() | st.decimals(min_value=0, max_value=10, places=9), max_size=20)


@given(costs, costs)
def test_spends_add_up_and_count_the_unknown(
    first: list[Decimal | None], second: list[Decimal | None]
) -> None:
    """A spend is the sum of the known costs and the count of unknown ones, however split."""
    whole = Spend.of(first + second)
    assert Spend.of(first) + Spend.of(second) == whole
    assert whole.calls == len(first) + len(second)
    assert whole.unknown == sum(cost is None for cost in first + second)
    assert whole.known == sum((c for c in first + second if c is not None), Decimal(0))
    assert whole.fully_known == (whole.unknown == 0)
