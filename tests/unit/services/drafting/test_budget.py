"""The monthly budget's arithmetic: UTC calendar months, the crossing call allowed and the next
refused, the 80% warning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.drafting.budget import (
    BudgetGuard,
    MonthlyBudget,
    month_key,
    month_start,
    next_month_start,
)
from services.errors import BudgetExhausted
from storage import Store, open_store, sqlite_url
from storage.models import NewLLMCall, Spend

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


# --- against the database -------------------------------------------------------------------


class Clock:
    """A settable clock for the store and the guard."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def spend(store: Store, cost: str) -> None:
    """Log one call costing `cost` USD."""
    async with store.transaction() as tx:
        await tx.llm_calls.record(NewLLMCall(deployment="d", model="m", cost=Decimal(cost)))


async def test_the_guard_refuses_once_this_months_spend_reaches_the_budget(
    tmp_path: Path,
) -> None:
    """Below the budget drafts may go ahead; the call that crosses it was allowed, the next
    check refuses with the budget named; next month starts afresh."""
    clock = Clock(datetime(2026, 3, 31, 23, 0, tzinfo=UTC))
    store = await open_store(sqlite_url(tmp_path / "db.sqlite"), clock=clock)
    try:
        guard = BudgetGuard(store, MonthlyBudget(Decimal(1)), now=clock)
        await spend(store, "0.6")
        await guard.ensure_available()
        await spend(store, "0.5")  # allowed before it: crosses the budget
        with pytest.raises(BudgetExhausted) as refused:
            await guard.ensure_available()
        assert refused.value.budget == Decimal(1)
        clock.now = datetime(2026, 4, 1, tzinfo=UTC)
        await guard.ensure_available()
        assert (await guard.spent_this_month()).known == 0
    finally:
        await store.close()


async def test_the_warning_is_claimed_once_a_month_at_eighty_percent(tmp_path: Path) -> None:
    """Below 80% nobody warns; at 80% exactly one claim wins, later ones don't; a new month
    warns again."""
    clock = Clock(datetime(2026, 5, 10, tzinfo=UTC))
    store = await open_store(sqlite_url(tmp_path / "db.sqlite"), clock=clock)
    try:
        guard = BudgetGuard(store, MonthlyBudget(Decimal(10)), now=clock)

        async def claim() -> Spend | None:
            async with store.transaction() as tx:
                return await guard.claim_warning(tx)

        await spend(store, "7.99")
        assert await claim() is None
        await spend(store, "0.01")
        claims = await asyncio.gather(*(claim() for _ in range(20)))
        winners = [spent for spent in claims if spent is not None]
        assert [spent.known for spent in winners] == [Decimal(8)]
        clock.now = datetime(2026, 6, 1, tzinfo=UTC)
        await spend(store, "9")
        assert await claim() is not None
        assert await BudgetGuard(store, MonthlyBudget(None), now=clock).ensure_available() is None
    finally:
        await store.close()
