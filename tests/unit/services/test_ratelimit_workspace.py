"""Drafting with no person behind it (the ideas schedule, an API client) takes workspace
tokens only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.errors import RateLimited
from services.ratelimit import RateLimiter
from storage import Store, open_store, sqlite_url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite database (the buckets live in it)."""
    opened = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield opened
    await opened.close()


async def test_no_user_takes_only_from_the_workspace_bucket(store: Store) -> None:
    """acquire(tx, None, drafts=n) spends n workspace tokens and no user's; it is refused
    when the workspace bucket is short, with the workspace scope."""
    limiter = RateLimiter(
        user_capacity=1, user_per_seconds=60, workspace_capacity=3, workspace_per_seconds=300
    )
    async with store.transaction() as tx:
        await limiter.acquire(tx, None, drafts=2)
    async with store.transaction() as tx:
        await limiter.acquire(tx, "U0REQ", drafts=1)
    with pytest.raises(RateLimited) as refused:
        async with store.transaction() as tx:
            await limiter.acquire(tx, None, drafts=1)
    assert refused.value.scope == "workspace"
    assert 0 < refused.value.retry_after <= 100.0
