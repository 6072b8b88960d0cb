"""The monthly LLM budget (SOCIALPOST_LLM_MONTHLY_BUDGET): the arithmetic, without storage.

A month is a calendar month in UTC. The spend is what this month's LLM calls are known to have
cost (a call whose cost is unknown adds nothing). The budget is checked before a call: a call
is allowed while the spend is below the budget, so the call that crosses it is allowed and the
next one refused (nobody can know a call's cost before making it). Once the spend reaches
`WARNING_SHARE` of the budget, the approvers are told, once a month (the storage keeps the
month it was sent for, so that holds across processes and restarts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from services.errors import BudgetExhausted
from services.lifecycle import Lifecycle
from services.models import Actor
from storage import Store, Transaction
from storage.interfaces import LLMCallReads
from storage.models import Spend

WARNING_SHARE = Decimal("0.8")
"""The share of the budget at which the approvers are warned."""


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the calendar month `moment` falls in (UTC)."""
    utc = _utc(moment)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the calendar month after `moment`'s."""
    start = month_start(moment)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def month_key(moment: datetime) -> str:
    """The UTC calendar month of `moment` as `YYYY-MM` (what the stored warning names)."""
    return month_start(moment).strftime("%Y-%m")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed, got a naive one")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class MonthlyBudget:
    """The USD cap on a calendar month's LLM spend; `limit` None: no cap."""

    limit: Decimal | None = None

    def exhausted(self, spent: Decimal) -> bool:
        """Whether a new call must be refused, this month's spend being `spent`."""
        return self.limit is not None and spent >= self.limit

    def warning_due(self, spent: Decimal) -> bool:
        """Whether `spent` has reached the share of the budget the approvers are warned at."""
        # A budget of $0 is used up from the start: there is nothing to warn ahead of.
        if not self.limit:
            return False
        return spent >= self.limit * WARNING_SHARE


class BudgetGuard:
    """The budget against the spend the database holds (the same for every process)."""

    def __init__(self, store: Store, budget: MonthlyBudget, *, now: Callable[[], datetime]) -> None:
        self._store = store
        self.budget = budget
        self._now = now

    async def spent_this_month(self, reads: LLMCallReads | None = None) -> Spend:
        """This calendar month's (UTC) LLM spend so far."""
        moment = self._now()
        return await (reads or self._store.llm_calls).spend(
            month_start(moment), next_month_start(moment)
        )

    async def ensure_available(self) -> None:
        """Raise `BudgetExhausted` when this month's spend has reached the budget: checked
        before a draft or a regeneration is accepted, so no LLM call is made for it."""
        limit = self.budget.limit
        if limit is None:
            return
        if self.budget.exhausted((await self.spent_this_month()).known):
            raise BudgetExhausted(limit)

    async def admit(
        self, lifecycle: Lifecycle, actor: Actor, action: str, post_id: str | None
    ) -> None:
        """`ensure_available` for `actor`'s request (`action` on `post_id`): a refusal is
        recorded in the audit log before `BudgetExhausted` is raised."""
        try:
            await self.ensure_available()
        except BudgetExhausted:
            async with lifecycle.transaction() as tx:
                await lifecycle.audit(tx, actor, action, post_id, "refused:budget_exhausted")
            raise

    async def claim_warning(self, tx: Transaction) -> Spend | None:
        """Inside the transaction that logged calls: this month's spend when it has reached
        the warning share and this caller is the one (ever) to warn about this month, else
        None."""
        if self.budget.limit is None:
            return None
        spent = await self.spent_this_month(tx.llm_calls)
        if not self.budget.warning_due(spent.known):
            return None
        if not await tx.llm_calls.claim_budget_warning(month_key(self._now())):
            return None
        return spent
