"""The ideas schedule's runs: a scheduled time is claimed once, whatever runs at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from storage import Store
from storage.models import IdeaRunStatus, NewIdeaRun, NewPost, PostStatus, Seen
from tests.storage.conftest import Backend
from tests.storage.support import T0, at

KEY = "ideas:2026-01-01T09:00:00+00:00"


async def claim(store: Store, key: str = KEY, **fields: object) -> bool:
    async with store.transaction() as tx:
        return await tx.ideas.claim(NewIdeaRun(key=key, **fields))  # type: ignore[arg-type]


async def test_a_run_is_claimed_once_and_read_back(store: Store) -> None:
    """The first claim inserts the run (queued, with its time); a second one changes nothing."""
    assert await claim(store, scheduled_for=at(0))
    assert not await claim(store, scheduled_for=at(5), topic="other")
    run = await store.ideas.get(KEY)
    assert run is not None
    assert run.status == IdeaRunStatus.QUEUED and run.scheduled_for == at(0)
    assert run.topic is None and run.ideas is None and run.dropped == 0
    assert await store.ideas.get("ideas:never") is None


async def test_many_claims_at_once_from_several_stores_make_one_run(
    backend: Backend, store: Store
) -> None:
    """Forty claims of one time at once (from two stores on PostgreSQL, as two processes;
    SQLite has one process) insert exactly one row: one of them gets True."""
    stores = [store]
    if backend.name == "postgres":
        stores.append(await backend.open())
    try:
        results = await asyncio.gather(
            *(claim(stores[n % len(stores)], scheduled_for=at(0)) for n in range(40))
        )
    finally:
        for other in stores[1:]:
            await other.close()
    assert results.count(True) == 1
    assert [run.key for run in await store.ideas.recent()] == [KEY]


async def test_ideas_and_the_end_of_a_run_are_recorded(store: Store) -> None:
    """save_ideas keeps the ideas (JSON) and the dropped count and marks it running; finish
    records the status, drafted count and detail; recent lists newest first."""
    await claim(store, scheduled_for=at(0))
    ideas = [{"title": "Why we pair", "description": "Pairing, told.", "category": "story"}]
    async with store.transaction() as tx:
        await tx.ideas.save_ideas(KEY, ideas, dropped=2)
    running = await store.ideas.get(KEY)
    assert running is not None and running.status == IdeaRunStatus.RUNNING
    assert running.ideas == ideas and running.dropped == 2
    async with store.transaction() as tx:
        await tx.ideas.finish(KEY, IdeaRunStatus.DONE, drafted=1, detail="1 skipped")
    done = await store.ideas.get(KEY)
    assert done is not None and done.status == IdeaRunStatus.DONE
    assert done.drafted == 1 and done.detail == "1 skipped"
    await claim(store, "ideas:now:1", requested_by="U0REQ", topic="hiring")
    assert [run.key for run in await store.ideas.recent(limit=1)] == ["ideas:now:1"]


async def test_seen_since_gives_recent_ideas_and_post_briefs_once(backend: Backend) -> None:
    """What a new idea must not repeat: ideas kept by runs since the time and briefs of posts
    since it (one per request, whatever its platforms), newest first; older ones are left."""
    now = [T0]
    store = await backend.open(clock=lambda: now[0])
    try:
        await claim(store, "ideas:old")
        async with store.transaction() as tx:
            await tx.ideas.save_ideas(
                "ideas:old", [{"title": "Old", "description": "o"}], dropped=0
            )
            await tx.posts.create(_post("An old brief", platform="x"))
        now[0] = T0 + timedelta(days=31)
        await claim(store, "ideas:new")
        async with store.transaction() as tx:
            kept = [{"title": "Why we pair", "description": "Pairing."}]
            await tx.ideas.save_ideas("ideas:new", kept, dropped=0)
        now[0] += timedelta(minutes=1)
        async with store.transaction() as tx:
            request = str(uuid.uuid4())
            for platform in ("x", "linkedin"):
                await tx.posts.create(
                    _post("Why we pair", platform=platform, request_id=request, title="Pairing")
                )
        since: datetime = T0 + timedelta(days=1)
        assert await store.ideas.seen_since(since) == [
            Seen(title="Pairing", text="Why we pair"),
            Seen(title="Why we pair", text="Pairing."),
        ]
    finally:
        await store.close()


def _post(brief: str, **fields: object) -> NewPost:
    return NewPost(
        id=str(uuid.uuid4()),
        status=PostStatus.PENDING,
        brief=brief,
        requester="U0REQ",
        **fields,  # type: ignore[arg-type]
    )
