"""Request checks and submission (`services.intake`): one entry for a request from anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.errors import InvalidRequest, RateLimited
from services.intake import BRIEF_MAX, DraftRequest, check_request
from storage import Store, open_store, sqlite_url
from storage.models import JobStatus, PostStatus
from tests.support.domain import domain_of

OFFERED = ("x", "linkedin", "instagram")


def request(**changes: object) -> DraftRequest:
    """A valid request for an X post, changed by `changes`."""
    values: dict[str, object] = {
        "request_id": "api:1",
        "requester": "U1",
        "brief": "  Announce the release  ",
        "platforms": ("x",),
        **changes,
    }
    return DraftRequest.model_validate(values)


def errors_of(bad: DraftRequest) -> dict[str, str]:
    """The fields `check_request` names as wrong."""
    with pytest.raises(InvalidRequest) as invalid:
        check_request(bad, OFFERED)
    return invalid.value.errors


def test_a_valid_request_is_cleaned_up() -> None:
    """The brief is trimmed, repeated platforms are one, empty optional fields are None."""
    checked = check_request(request(platforms=("x", "x"), tone=" ", image_url=""), OFFERED)
    assert (checked.brief, checked.platforms, checked.tone, checked.image_url) == (
        "Announce the release",
        ("x",),
        None,
        None,
    )


def test_every_wrong_field_is_named_at_once() -> None:
    """An empty brief, no platform, an unknown tone and a bad image URL: four errors."""
    assert set(errors_of(request(brief=" ", platforms=(), tone="grumpy", image_url="ftp:x"))) == {
        "brief",
        "platforms",
        "tone",
        "image_url",
    }


def test_limits_and_offers_are_enforced() -> None:
    """A brief over the limit, a platform not offered, Instagram without an image."""
    assert "brief" in errors_of(request(brief="a" * (BRIEF_MAX + 1)))
    assert "platforms" in errors_of(request(platforms=("myspace",)))
    assert (
        "Instagram posts need an image" in errors_of(request(platforms=("instagram",)))["image_url"]
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh database."""
    opened = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield opened
    await opened.close()


async def test_a_request_stores_one_post_per_platform_with_its_draft_job(store: Store) -> None:
    """Each post is generating with a queued draft job; the same request id again returns
    the same posts and queues nothing more."""
    intake = domain_of(store).intake
    posts = await intake.submit(request(platforms=("x", "linkedin")))
    assert [(p.platform, p.status, p.request_id) for p in posts] == [
        ("x", PostStatus.GENERATING, "api:1"),
        ("linkedin", PostStatus.GENERATING, "api:1"),
    ]
    again = await intake.submit(request(platforms=("x", "linkedin")))
    assert {p.id for p in again} == {p.id for p in posts}
    drafts = [j for j in await store.jobs.with_status(JobStatus.QUEUED) if j.kind == "draft"]
    assert sorted(j.post_id or "" for j in drafts) == sorted(p.id for p in posts)


async def test_one_request_submitted_many_times_at_once_spends_one_token(store: Store) -> None:
    """Ten concurrent submissions of one request (re-deliveries to busy handlers) make one
    post and take one token of the requester's 5: four more requests fit, the fifth is
    refused."""
    intake = domain_of(store).intake
    results = await asyncio.gather(*(intake.submit(request()) for _ in range(10)))
    assert len({posts[0].id for posts in results}) == 1
    for n in range(4):
        await intake.submit(request(request_id=f"api:more:{n}"))
    with pytest.raises(RateLimited):
        await intake.submit(request(request_id="api:one-too-many"))
    assert sum((await store.posts.count_by_status()).values()) == 5
