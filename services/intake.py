"""Intake: a request for drafts, from any channel, checked and stored durably.

ONE entry (`Intake.submit`) for every way a request comes in: the Slack modal today, the HTTP
API and scheduled idea runs next. A request carries an opaque `request_id` that its caller
builds to be unique per request and the same on every re-delivery (Slack's handler passes
"slack:view:<view id>"); with the platform it forms each post's `request_key`, so a
re-delivered request finds the posts it already created instead of making new ones. Each post
is stored with its `draft` job in one transaction, so a request that was accepted is drafted
even across a crash.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime

import structlog
from pydantic import BaseModel, ConfigDict

from services.drafting.budget import BudgetGuard
from services.drafting.job import Drafting
from services.errors import InvalidRequest, RateLimited
from services.lifecycle import Lifecycle
from services.models import Actor
from services.platforms import PLATFORMS, makes_thread
from services.ratelimit import RateLimiter
from services.scheduling.rules import check_post_at
from storage import Store, Transaction
from storage.models import NewPost, Post, PostStatus

log = structlog.get_logger(__name__)

BRIEF_MAX = 2000
TONE_MAX = 100
IMAGE_URL_MAX = 2000

TONES: dict[str, str] = {
    "friendly": "Friendly",
    "professional": "Professional",
    "playful": "Playful",
    "informative": "Informative",
    "enthusiastic": "Enthusiastic",
    "bold": "Bold",
}

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class DraftRequest(BaseModel):
    """What someone asked for, as they gave it (not yet checked); `request_id` is the
    caller's idempotency key for the request."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    requester: str
    brief: str
    platforms: tuple[str, ...]
    tone: str | None = None
    image_url: str | None = None
    thread: bool = False
    requested_by: str | None = None
    """Free text naming who asked (an API request's `requested_by`), shown on the card."""
    per_user_limit: bool = True
    """Whether the requester's own bucket applies (SOCIALPOST_RATE_LIMIT); an API request is
    limited per client address by the API instead. The workspace bucket always applies."""
    title: str | None = None
    """A title shown on the card (an idea's, SPEC section 7.6)."""
    post_at: datetime | None = None
    """When the requester would like it published (aware UTC; None: once approved)."""


def _needing_an_image(platforms: tuple[str, ...]) -> list[str]:
    """The names of the platforms among `platforms` that only take posts with an image."""
    return [PLATFORMS[p].name for p in platforms if p in PLATFORMS and PLATFORMS[p].needs_image]


def check_request(
    request: DraftRequest, offered: Collection[str], now: datetime | None = None
) -> DraftRequest:
    """The request cleaned up, or `InvalidRequest` naming every field that is wrong (a
    `post_at` that can't be used is named by its `PostAtProblem` value, checked against
    `now`)."""
    errors: dict[str, str] = {}
    problem = check_post_at(request.post_at, now) if request.post_at and now else None
    if problem is not None:
        errors["post_at"] = problem.value
    brief = request.brief.strip()
    if not brief:
        errors["brief"] = "Describe the post you want: the brief can't be empty."
    elif len(brief) > BRIEF_MAX:
        errors["brief"] = f"The brief is {len(brief)} characters; the limit is {BRIEF_MAX}."
    platforms = tuple(dict.fromkeys(request.platforms))
    unknown = [p for p in platforms if p not in offered]
    if not platforms:
        errors["platforms"] = "Choose at least one platform."
    elif unknown:
        errors["platforms"] = f"Not an available platform: {', '.join(unknown)}."
    tone = (request.tone or "").strip() or None
    if tone is not None and tone not in TONES:
        errors["tone"] = "Choose a tone from the list."
    image_url = (request.image_url or "").strip() or None
    if image_url is not None and (len(image_url) > IMAGE_URL_MAX or not _URL.match(image_url)):
        errors["image_url"] = "Enter a full http(s) address of the image, or leave it empty."
    elif image_url is None and (needing := _needing_an_image(platforms)):
        errors["image_url"] = f"{needing[0]} posts need an image: enter the image URL."
    if errors:
        raise InvalidRequest(errors)
    return request.model_copy(
        update={"brief": brief, "platforms": platforms, "tone": tone, "image_url": image_url}
    )


class Intake:
    """Takes requests for drafts."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        drafting: Drafting,
        limiter: RateLimiter,
        *,
        offered_platforms: Collection[str],
        dry_run_platforms: Collection[str] = (),
        budget: BudgetGuard | None = None,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._drafting = drafting
        self._limiter = limiter
        self._budget = budget
        self.offered_platforms = [p for p in PLATFORMS if p in offered_platforms]
        self.dry_run_platforms = [p for p in self.offered_platforms if p in dry_run_platforms]

    async def submit(
        self,
        request: DraftRequest,
        *,
        also: Callable[[Transaction], Awaitable[None]] | None = None,
        new_id: bool = False,
    ) -> list[Post]:
        """Store one post per platform (status `generating`) with its draft job.

        Raises `InvalidRequest`, `BudgetExhausted` (this month's LLM budget is used up) or
        `RateLimited`, with nothing stored. A request already submitted returns its posts
        without drafting them again or taking a token. `also(tx)` runs first in the
        transaction that stores the posts (an API request records its Idempotency-Key there);
        whatever it raises rolls the posts back too. `new_id`: the caller has just made the
        request's id up (nothing can have been stored under it: no need to look).
        """
        request = check_request(request, self.offered_platforms, self._lifecycle.clock.now())
        existing = [] if new_id else await self._store.posts.for_request(request.request_id)
        if existing:
            log.info("duplicate_submission", request_id=request.request_id)
            return existing
        requester = Actor(user_id=request.requester)
        if self._budget is not None:
            await self._budget.admit(self._lifecycle, requester, "draft", None)
        try:
            posts, created = await self._store_posts(request, also)
        except RateLimited as limited:
            async with self._lifecycle.transaction() as tx:
                outcome = f"refused:rate_limited:{limited.scope}"
                await self._lifecycle.audit(tx, requester, "draft", None, outcome)
            raise
        if not created:
            # Delivered to another process at the same time, which stored it first.
            log.info("duplicate_submission", request_id=request.request_id)
        return posts

    async def _store_posts(
        self,
        request: DraftRequest,
        also: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> tuple[list[Post], int]:
        """The request's posts with their draft jobs, and how many this call created; the
        drafting tokens are taken in the same transaction, for the posts it created only (a
        request stored meanwhile by another process takes none). `RateLimited`: nothing
        stored, nothing taken."""
        posts: list[Post] = []
        created_count = 0
        async with self._lifecycle.transaction() as tx:
            if also is not None:
                await also(tx)
            for platform in request.platforms:
                post, created = await self._lifecycle.begin(
                    tx,
                    NewPost(
                        id=str(uuid.uuid4()),
                        platform=platform,
                        status=PostStatus.GENERATING,
                        request_id=request.request_id,
                        requester=request.requester,
                        brief=request.brief,
                        tone=request.tone,
                        image_url=request.image_url,
                        thread=makes_thread(platform, asked=request.thread, brief=request.brief),
                        requested_by=request.requested_by,
                        version=0,
                        title=request.title,
                        requested_for=request.post_at,
                    ),
                )
                posts.append(post)
                if created:
                    created_count += 1
                    await self._drafting.queue(tx, post.id)
            if created_count:
                user = request.requester if request.per_user_limit else None
                await self._limiter.acquire(tx, user, drafts=created_count)
        return posts, created_count
