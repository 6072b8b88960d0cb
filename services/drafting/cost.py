"""What an LLM call cost, in USD, by litellm's own cost calculation.

litellm knows the prices of the models in its cost map. For a model it doesn't know (a
self-hosted one, or one priced differently for you), an entry of SOCIALPOST_LLM_CONFIG may give
`input_cost_per_token` and `output_cost_per_token` in its `litellm_params`; they are handed to
`litellm.completion_cost` as its custom prices. They are NOT passed on to `litellm.acompletion`:
given there, litellm registers them in its process-wide cost map, so they would leak into the
price of every other deployment of the same model (`call_params` strips them).

A call whose cost litellm can't compute (a model it doesn't know without prices, an answer
without token usage) has no cost: None, shown as "cost unknown", never as $0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm.types.utils import CostPerToken

from storage.models import Spend

__all__ = [
    "PRICE_KEYS",
    "Spend",
    "call_cost",
    "call_params",
    "custom_prices",
    "reported_usage",
]

PRICE_KEYS = ("input_cost_per_token", "output_cost_per_token")
"""The pricing parameters an LLM config entry may give, USD per token."""
NANO = Decimal("0.000000001")
"""Costs are kept to the billionth of a dollar (stored as whole nano-dollars)."""


def call_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment's parameters as litellm is called with them: without its prices."""
    return {key: value for key, value in params.items() if key not in PRICE_KEYS}


def custom_prices(params: Mapping[str, Any]) -> CostPerToken | None:
    """The per-token prices a deployment's parameters give, or None when they give none.

    Raises `ValueError` when only one is given or one isn't a non-negative number (checked
    when the LLM config is read).
    """
    given = {key: params[key] for key in PRICE_KEYS if params.get(key) is not None}
    if not given:
        return None
    if len(given) != len(PRICE_KEYS):
        missing = next(key for key in PRICE_KEYS if key not in given)
        raise ValueError(f"gives {next(iter(given))} but not {missing}: give both")
    prices: dict[str, float] = {}
    for key, value in given.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0 or isinstance(value, bool):
            raise ValueError(f"{key} must be a number of USD per token, got {value!r}")
        prices[key] = number
    return CostPerToken(
        input_cost_per_token=prices["input_cost_per_token"],
        output_cost_per_token=prices["output_cost_per_token"],
    )


def reported_usage(response: object) -> tuple[int, int] | None:
    """The (prompt, completion) tokens a provider reported with its answer, or None when it
    reported none (litellm fills in zeros then)."""
    usage = getattr(response, "usage", None)
    tokens = [getattr(usage, name, None) for name in ("prompt_tokens", "completion_tokens")]
    counts = [count if isinstance(count, int) and count > 0 else 0 for count in tokens]
    return (counts[0], counts[1]) if any(counts) else None


def call_cost(response: object, *, model: str, params: Mapping[str, Any]) -> Decimal | None:
    """The USD cost of one litellm completion `response` from the deployment of `model`
    (its litellm name) called with `params`; None when litellm can't compute it."""
    if reported_usage(response) is None:
        # litellm prices an answer without usage at 0: that is not knowing, not free.
        return None
    try:
        cost = litellm.completion_cost(
            completion_response=response,
            model=model,
            custom_cost_per_token=custom_prices(params),
        )
    except Exception:
        # Whatever litellm raises (a model not in its map, a provider it can't price), the
        # answer is the same: the cost is unknown.
        return None
    if not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
        return None
    return Decimal(repr(float(cost))).quantize(NANO)
