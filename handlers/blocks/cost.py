"""Money as people read it on the card and in `/socialpost status` (SPEC section 7.4).

An LLM call costs fractions of a cent, so a cost below a dollar shows four decimals
("$0.0004"); larger sums show cents ("$12.34"). A cost litellm couldn't compute is "cost
unknown", never $0: a sum that leaves calls out says so.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from services.drafting.cost import Spend

COST_UNKNOWN = "cost unknown"
_CENTS = Decimal("0.01")
_SMALL = Decimal("0.0001")


def usd(amount: Decimal) -> str:
    """An amount of USD: "$0", "$0.0004", "less than $0.0001", "$1,234.57"."""
    if amount == 0:
        return "$0"
    if amount < _SMALL / 2:
        return "less than $0.0001"
    step = _SMALL if amount < 1 else _CENTS
    return f"${amount.quantize(step, rounding=ROUND_HALF_UP):,}"


def budget_usd(amount: Decimal) -> str:
    """A budget as it was set: "$50", "$12.50", "$0.125"."""
    if amount == amount.to_integral_value():
        return f"${int(amount):,}"
    if amount == amount.quantize(_CENTS):
        return f"${amount.quantize(_CENTS):,}"
    return f"${amount.normalize():,f}"


def spend_text(spend: Spend) -> str:
    """What some LLM calls cost: "$0.0004", "cost unknown", "$0.0004 + cost unknown"."""
    if spend.calls and spend.unknown == spend.calls:
        return COST_UNKNOWN
    if spend.unknown:
        return f"{usd(spend.known)} + {COST_UNKNOWN}"
    return usd(spend.known)
