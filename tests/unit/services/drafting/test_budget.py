"""The monthly budget's arithmetic: UTC calendar months, the crossing call allowed and the next
refused, the 80% warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.llm_budget import MonthlyBudget, month_key, month_start, next_month_start

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


def test_months_are_utc_calendar_months() -> None:
    """Half past midnight on 1 December in Paris is still November in UTC."""
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 12, 1, 0, 30, tzinfo=paris)
    assert month_key(moment) == "2026-11"
    assert month_start(moment) == datetime(2026, 11, 1, tzinfo=UTC)
    assert next_month_start(moment) == datetime(2026, 12, 1, tzinfo=UTC)


def test_december_rolls_over_into_january() -> None:
    """The month after December is January of the next year."""
    assert next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_naive_datetimes_are_refused() -> None:
    """A time without a zone can't be placed in a UTC month."""
    with pytest.raises(ValueError, match="aware"):
        month_start(datetime(2026, 1, 1))


@given(moments)
def test_every_moment_lies_in_its_month(moment: datetime) -> None:
    """A moment is within [its month's start, the next month's start), which is one key."""
    start, end = month_start(moment), next_month_start(moment)
    assert start <= moment < end
    assert month_key(start) == month_key(moment) != month_key(end)
    assert 28 <= (end - start).days <= 31
    assert month_start(end - timedelta(microseconds=1)) == start


def test_no_budget_never_refuses_or_warns() -> None:
    """Without SOCIALPOST_LLM_MONTHLY_BUDGET any spend is fine."""
    budget = MonthlyBudget(None)
    assert not budget.exhausted(Decimal(10**9))
    assert not budget.warning_due(Decimal(10**9))


def test_the_budget_is_used_up_when_the_spend_reaches_it() -> None:
    """Below the budget a call may go ahead; at or over it, not."""
    budget = MonthlyBudget(Decimal(5))
    assert not budget.exhausted(Decimal("4.999999999"))
    assert budget.exhausted(Decimal(5))
    assert budget.exhausted(Decimal("5.0001"))


def test_the_warning_is_due_at_eighty_percent() -> None:
    """At 80% of the budget the approvers are warned; a $0 budget has nothing to warn of."""
    budget = MonthlyBudget(Decimal(5))
    assert not budget.warning_due(Decimal("3.999999999"))
    assert budget.warning_due(Decimal(4))
    assert not MonthlyBudget(Decimal(0)).warning_due(Decimal(1))
    assert MonthlyBudget(Decimal(0)).exhausted(Decimal(0))


@given(
    limit=st.decimals(min_value=Decimal("0.01"), max_value=100, places=4),
    costs=st.lists(st.decimals(min_value=0, max_value=5, places=6), min_size=1, max_size=60),
)
def test_the_call_that_crosses_the_budget_is_allowed_and_the_next_refused(
    limit: Decimal, costs: list[Decimal]
) -> None:
    """Checking before each call: every call starts below the budget, the spend overshoots it
    by at most the last call's cost, and once reached every later call is refused."""
    budget = MonthlyBudget(limit)
    spent, made = Decimal(0), []
    for cost in costs:
        if budget.exhausted(spent):
            break
        made.append(cost)
        spent += cost
    assert all(sum(made[:i], Decimal(0)) < limit for i in range(len(made)))
    if spent >= limit:
        assert spent - made[-1] < limit
        assert budget.exhausted(spent)
    else:
        assert made == costs
