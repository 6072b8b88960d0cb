"""The LLM call log: every call's tokens and cost, each post's running total, the monthly
spend, and the one budget warning a month."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Insert, bindparam, case, func, select, type_coerce, update

from storage.models import LLMCall, NewLLMCall, Spend
from storage.schema import NanoUSD, budget_warnings, llm_calls, posts
from storage.sql.dialect import upsert
from storage.sql.executor import Executor

_RECORD = llm_calls.insert().returning(*llm_calls.c)
_ADD_TO_POST = (
    update(posts)
    .where(posts.c.id == bindparam("post_id"))
    .values(
        llm_cost=posts.c.llm_cost + bindparam("known", type_=NanoUSD),
        llm_call_count=posts.c.llm_call_count + 1,
        llm_unpriced_count=posts.c.llm_unpriced_count + bindparam("unpriced"),
    )
)
_FOR_POST = (
    select(llm_calls).where(llm_calls.c.post_id == bindparam("post_id")).order_by(llm_calls.c.id)
)
_SPEND = select(
    type_coerce(func.coalesce(func.sum(llm_calls.c.cost), 0), NanoUSD).label("known"),
    func.count().label("calls"),
    func.coalesce(func.sum(case((llm_calls.c.cost.is_(None), 1), else_=0)), 0).label("unknown"),
).where(llm_calls.c.at >= bindparam("start"), llm_calls.c.at < bindparam("end"))
_WARNED = select(budget_warnings.c.month).where(budget_warnings.c.month == bindparam("month"))


@functools.cache
def _claim(dialect_name: str) -> Insert:
    return (
        upsert(dialect_name, budget_warnings)
        .values(month=bindparam("month"), sent_at=bindparam("sent_at"))
        .on_conflict_do_nothing(index_elements=[budget_warnings.c.month])
        .returning(budget_warnings.c.month)
    )


class SqlLLMCalls:
    """SQL for `llm_calls` and `budget_warnings`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def record(self, call: NewLLMCall) -> LLMCall:
        """Log one call, stamped now; a call for a post adds to the post's cost too."""
        (row,) = await self._run.all(_RECORD, {**call.model_dump(), "at": self._run.now()})
        if call.post_id is not None:
            await self._run.all(
                _ADD_TO_POST,
                {
                    "post_id": call.post_id,
                    "known": call.cost if call.cost is not None else Decimal(0),
                    "unpriced": 1 if call.cost is None else 0,
                },
            )
        return LLMCall.model_validate(dict(row))

    async def for_post(self, post_id: str) -> list[LLMCall]:
        """The post's calls, oldest first."""
        rows = await self._run.all(_FOR_POST, {"post_id": post_id})
        return [LLMCall.model_validate(dict(row)) for row in rows]

    async def spend(self, start: datetime, end: datetime) -> Spend:
        """What the calls made from `start` (included) to `end` (excluded) cost."""
        (row,) = await self._run.all(_SPEND, {"start": start, "end": end})
        return Spend(known=row["known"], calls=row["calls"], unknown=row["unknown"])

    async def budget_warned(self, month: str) -> bool:
        """Whether the budget warning of `month` was claimed."""
        return bool(await self._run.all(_WARNED, {"month": month}))

    async def claim_budget_warning(self, month: str) -> bool:
        """Claim the one budget warning of `month`: True for its one claimant ever."""
        claimed = await self._run.all(
            _claim(self._run.dialect_name), {"month": month, "sent_at": self._run.now()}
        )
        return bool(claimed)
