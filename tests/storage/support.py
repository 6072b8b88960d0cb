"""Small helpers the contract tests share."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from storage import Store
from storage.models import NewJob, NewPost, Post, PostStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment `seconds` after T0."""
    return T0 + timedelta(seconds=seconds)


async def new_post(store: Store, status: PostStatus = PostStatus.PENDING, **fields: Any) -> Post:
    """Store an X post in `status` and return it."""
    values: dict[str, Any] = {"message": "Hello world", "requester": "U0REQ", "brief": "hi"}
    values.update(fields)
    async with store.transaction() as tx:
        post, created = await tx.posts.create(
            NewPost(
                id=str(uuid.uuid4()), platform=values.pop("platform", "x"), status=status, **values
            )
        )
    assert created
    return post


async def enqueue(store: Store, kind: str = "notify_user", **fields: Any) -> int:
    """Queue one job (due at T0 unless `run_at` is given) and return its id."""
    values: dict[str, Any] = {"run_at": T0}
    values.update(fields)
    async with store.transaction() as tx:
        return await tx.jobs.enqueue(NewJob(kind=kind, **values))


@asynccontextmanager
async def transaction_held(store: Store) -> AsyncIterator[None]:
    """A write transaction kept open for the block (the one writer's turn on SQLite, one
    pooled connection on PostgreSQL), committed as the block ends."""
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with store.transaction():
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    try:
        yield
    finally:
        release.set()
        await holder
