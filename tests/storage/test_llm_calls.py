"""The LLM call log: per-call costs, each post's running total, the monthly spend summed by the
database, and one budget warning a month however many processes claim it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from storage import Store
from storage.models import NewLLMCall, PostStatus, Spend
from tests.storage.conftest import Backend
from tests.storage.support import T0, new_post


def call(cost: str | None, post_id: str | None = None, **fields: object) -> NewLLMCall:
    """One call of the fake deployment with this cost (None: unknown)."""
    values: dict[str, object] = {
        "deployment": "fake-gpt",
        "model": "openai/gpt-4o-mini",
        "prompt_tokens": 120,
        "completion_tokens": 40,
    }
    values.update(fields)
    return NewLLMCall(post_id=post_id, cost=Decimal(cost) if cost is not None else None, **values)


async def test_a_call_is_logged_with_its_tokens_and_exact_cost(store: Store) -> None:
    """A call comes back as logged, stamped now, its cost exact to the nano-dollar."""
    post = await new_post(store)
    async with store.transaction() as tx:
        logged = await tx.llm_calls.record(call("0.000123456", post.id))
    assert logged.cost == Decimal("0.000123456")
    assert (logged.prompt_tokens, logged.completion_tokens) == (120, 40)
    assert logged.at.tzinfo is not None
    assert await store.llm_calls.for_post(post.id) == [logged]


async def test_a_posts_cost_adds_up_every_call_and_counts_the_unknown(store: Store) -> None:
    """Drafts, re-prompts and regenerations all add to the post's cost; an unknown cost
    counts as unknown, never as $0; other posts are untouched."""
    post = await new_post(store, PostStatus.GENERATING)
    other = await new_post(store)
    async with store.transaction() as tx:
        for cost in ("0.0001", "0.00025", None, "0.000000001"):
            await tx.llm_calls.record(call(cost, post.id))
    stored = await store.posts.get(post.id)
    assert stored is not None
    assert stored.spend == Spend(known=Decimal("0.000350001"), calls=4, unknown=1)
    untouched = await store.posts.get(other.id)
    assert untouched is not None and untouched.spend == Spend()


async def test_a_rolled_back_call_costs_nothing(store: Store) -> None:
    """A call logged in a transaction that fails is neither in the log nor on the post."""
    post = await new_post(store)
    try:
        async with store.transaction() as tx:
            await tx.llm_calls.record(call("1", post.id))
            raise RuntimeError("crash")
    except RuntimeError:
        pass
    assert await store.llm_calls.for_post(post.id) == []
    stored = await store.posts.get(post.id)
    assert stored is not None and stored.spend == Spend()


async def test_spend_is_summed_over_a_half_open_range(backend: Backend) -> None:
    """The spend from `start` to `end` holds the calls at `start` and before `end`, none
    other; calls without a post count too."""
    now = [T0]
    store = await backend.open(clock=lambda: now[0])
    try:
        for moment, cost in [
            (T0 - timedelta(microseconds=1), "5"),
            (T0, "0.25"),
            (T0 + timedelta(days=10), None),
            (T0 + timedelta(days=20), "0.5"),
            (T0 + timedelta(days=30), "7"),
        ]:
            now[0] = moment
            async with store.transaction() as tx:
                await tx.llm_calls.record(call(cost))
        spent = await store.llm_calls.spend(T0, T0 + timedelta(days=30))
        assert spent == Spend(known=Decimal("0.75"), calls=3, unknown=1)
        assert await store.llm_calls.spend(T0, T0) == Spend()
    finally:
        await store.close()


async def test_one_budget_warning_a_month_however_many_claim_it(backend: Backend) -> None:
    """Of many concurrent claims (from several stores, i.e. processes, where the backend
    allows them: a SQLite file belongs to one), exactly one wins a month; the next month is
    claimed afresh."""
    stores = [await backend.open() for _ in range(1 if backend.name == "sqlite" else 3)]
    try:

        async def claim(store: Store, month: str) -> bool:
            async with store.transaction() as tx:
                return await tx.llm_calls.claim_budget_warning(month)

        assert not await stores[0].llm_calls.budget_warned("2026-01")
        results = await asyncio.gather(*(claim(s, "2026-01") for s in stores * 30))
        assert sum(results) == 1
        assert await stores[-1].llm_calls.budget_warned("2026-01")
        assert await claim(stores[-1], "2026-02")
        assert not await claim(stores[0], "2026-02")
    finally:
        for store in stores:
            await store.close()
