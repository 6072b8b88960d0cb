"""API requests' Idempotency-Keys: one request per key, replaced once stale, never two at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import Store
from storage.models import ApiRequest, PostStatus
from tests.storage.conftest import Backend
from tests.storage.support import T0, at, new_post


def request(
    request_id: str, *, created: float = 0, caller: str = "ci", fingerprint: str = "f1"
) -> ApiRequest:
    """An Idempotency-Key `order-1` row."""
    return ApiRequest(
        caller=caller,
        idempotency_key="order-1",
        fingerprint=fingerprint,
        request_id=request_id,
        created_at=at(created),
    )


async def claim(store: Store, row: ApiRequest, *, replace_before: float = -1) -> ApiRequest:
    """Claim `row` in a transaction of its own."""
    async with store.transaction() as tx:
        return await tx.api_requests.claim(row, replace_before=at(replace_before))


async def test_a_new_key_is_recorded_and_read_back(store: Store) -> None:
    """The first claim of a key stores it; get() finds it by API key name and key."""
    assert await store.api_requests.get("ci", "order-1") is None
    stored = await claim(store, request("api:1"))
    assert stored == request("api:1")
    assert await store.api_requests.get("ci", "order-1") == stored
    assert stored.created_at.tzinfo is not None and stored.created_at == T0


async def test_a_fresh_key_keeps_its_first_request(store: Store) -> None:
    """A second claim within the window gets the first request back, unchanged."""
    await claim(store, request("api:1"))
    again = await claim(store, request("api:2", created=10, fingerprint="f2"))
    assert again == request("api:1")


async def test_a_stale_key_is_given_to_the_new_request(store: Store) -> None:
    """Past the window (created before replace_before) the key goes to the new request."""
    await claim(store, request("api:1"))
    later = request("api:2", created=90_000, fingerprint="f2")
    assert await claim(store, later, replace_before=3_600) == later
    assert await store.api_requests.get("ci", "order-1") == later


async def test_keys_belong_to_their_api_key(store: Store) -> None:
    """The same Idempotency-Key from two API keys is two requests."""
    await claim(store, request("api:1"))
    other = request("api:2", caller="zapier")
    assert await claim(store, other) == other


async def test_a_rolled_back_claim_leaves_nothing(store: Store) -> None:
    """A claim in a transaction that fails is not stored (the refusal stores nothing)."""
    try:
        async with store.transaction() as tx:
            await tx.api_requests.claim(request("api:1"), replace_before=at(-1))
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    assert await store.api_requests.get("ci", "order-1") is None


async def test_concurrent_claims_of_one_key_agree_on_one_request(backend: Backend) -> None:
    """Many claims of one key at once (from several processes' stores on PostgreSQL; a
    SQLite file has one process) all get the same single request."""
    stores = [await backend.open()]
    try:
        if backend.name == "postgres":
            stores += [await backend.open() for _ in range(3)]
        results = await asyncio.gather(
            *[claim(stores[i % len(stores)], request(f"api:{i}", created=i)) for i in range(24)]
        )
    finally:
        for opened in stores:
            await opened.close()
    assert len({row.request_id for row in results}) == 1


async def test_posts_keep_requested_by(store: Store) -> None:
    """A post's free-text requested_by is stored and read back."""
    post = await new_post(store, PostStatus.GENERATING, requested_by="Release pipeline")
    assert (await store.posts.get(post.id)).requested_by == "Release pipeline"  # type: ignore[union-attr]
    assert timedelta(0) == post.created_at - post.updated_at
