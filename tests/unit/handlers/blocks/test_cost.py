"""Money as the card and /socialpost status show it: fractions of a cent, unknown costs said."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.blocks.cost import COST_UNKNOWN, budget_usd, spend_text, usd
from services.drafting.cost import Spend


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0", "$0"),
        ("0.0004", "$0.0004"),
        ("0.00036", "$0.0004"),
        ("0.00004", "less than $0.0001"),
        ("0.00005", "$0.0001"),
        ("0.0123", "$0.0123"),
        ("1", "$1.00"),
        ("1234.567", "$1,234.57"),
    ],
)
def test_amounts(amount: str, shown: str) -> None:
    """Below a dollar four decimals ("$0.0004"), from a dollar on cents; tiny isn't zero."""
    assert usd(Decimal(amount)) == shown


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("50", "$50"), ("12.5", "$12.50"), ("0.125", "$0.125"), ("1000", "$1,000")],
)
def test_budgets_show_as_set(amount: str, shown: str) -> None:
    """A budget reads as it was written, without needless decimals."""
    assert budget_usd(Decimal(amount)) == shown


def test_unknown_costs_are_never_zero() -> None:
    """All calls unknown: "cost unknown"; some: the known sum and that more is unknown."""
    assert spend_text(Spend.of([None])) == COST_UNKNOWN == "cost unknown"
    assert spend_text(Spend.of([Decimal("0.0004"), None])) == "$0.0004 + cost unknown"
    assert spend_text(Spend.of([Decimal("0.0001"), Decimal("0.0003")])) == "$0.0004"
    assert spend_text(Spend()) == "$0"


@given(st.decimals(min_value=Decimal("0.00005"), max_value=10**6, places=9))
def test_a_shown_amount_is_never_zero_nor_far_off(amount: Decimal) -> None:
    """A positive amount shows within half its last shown digit, never as "$0"."""
    shown = usd(amount)
    number = Decimal(shown.removeprefix("$").replace(",", ""))
    step = Decimal("0.0001") if amount < 1 else Decimal("0.01")
    assert number > 0
    assert abs(number - amount) <= step / 2
