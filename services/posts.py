"""Drafting requests: check them, store one post per platform, and start drafting.

A request is identified by its Slack view id; with the platform it forms each post's
`request_key`, so a re-delivered submission finds the posts it already created instead of
making new ones.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection

import structlog
from pydantic import BaseModel, ConfigDict

from services.drafting import DraftingService
from services.errors import InvalidRequest, RateLimited
from services.outbox import Outbox, enqueue_card
from services.platforms import PLATFORMS, makes_thread
from services.ratelimit import RateLimiter
from storage import Store
from storage.models import FAILED_STATUSES, NewPost, Post, PostStatus

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
    """What a teammate asked for, as typed in the modal (not yet checked)."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    requester: str
    brief: str
    platforms: tuple[str, ...]
    tone: str | None = None
    image_url: str | None = None
    thread: bool = False


def _needing_an_image(platforms: tuple[str, ...]) -> list[str]:
    """The names of the platforms among `platforms` that only take posts with an image."""
    return [PLATFORMS[p].name for p in platforms if p in PLATFORMS and PLATFORMS[p].needs_image]


def check_request(request: DraftRequest, offered: Collection[str]) -> DraftRequest:
    """The request cleaned up, or `InvalidRequest` naming every field that is wrong."""
    errors: dict[str, str] = {}
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


class PostService:
    """Takes drafting requests and answers questions about posts."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        drafting: DraftingService,
        limiter: RateLimiter,
        *,
        offered_platforms: Collection[str],
        dry_run_platforms: Collection[str] = (),
        scrub: Callable[[str], str] = str,
    ) -> None:
        self._store = store
        self._scrub = scrub
        self._outbox = outbox
        self._drafting = drafting
        self._limiter = limiter
        self.offered_platforms = [p for p in PLATFORMS if p in offered_platforms]
        self.dry_run_platforms = [p for p in self.offered_platforms if p in dry_run_platforms]

    async def submit(self, request: DraftRequest) -> list[Post]:
        """Store one post per platform (status `generating`) and start drafting each.

        Raises `InvalidRequest` (nothing stored) or `RateLimited` (nothing stored). A request
        already submitted returns its posts without drafting them again or taking a token.
        """
        request = check_request(request, self.offered_platforms)
        existing = await self._store.posts.for_request(request.request_id)
        if existing:
            log.info("duplicate_submission", request_id=request.request_id)
            return existing
        try:
            self._limiter.acquire(request.requester, drafts=len(request.platforms))
        except RateLimited as limited:
            async with self._store.transaction() as tx:
                await tx.audit.record(
                    actor=request.requester,
                    action="draft",
                    post_id=None,
                    outcome=f"refused:rate_limited:{limited.scope}",
                )
            raise
        created: list[Post] = []
        posts: list[Post] = []
        async with self._store.transaction() as tx:
            for platform in request.platforms:
                post, new = await tx.posts.create(
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
                        version=0,
                    )
                )
                posts.append(post)
                if new:
                    created.append(post)
                    await enqueue_card(tx, post.id)
        self._outbox.wake()
        for post in created:
            self._drafting.start(post.id)
        return posts

    async def get(self, post_id: str) -> Post | None:
        """The post with this id."""
        return await self._store.posts.get(post_id)

    async def queue(self, *, limit: int = 20) -> tuple[list[Post], list[Post], list[Post]]:
        """Pending, failed and recently posted posts, newest first, as people may see them:
        failure reasons (which quote third parties) get the same redaction as the card."""
        pending = await self._store.posts.with_status([PostStatus.PENDING], limit=limit)
        failed = await self._store.posts.with_status(FAILED_STATUSES, limit=limit)
        posted = await self._store.posts.with_status([PostStatus.POSTED], limit=limit)
        return self._shown(pending), self._shown(failed), posted

    def _shown(self, posts: list[Post]) -> list[Post]:
        return [
            post.model_copy(update={"failure_reason": self._scrub(post.failure_reason)})
            if post.failure_reason
            else post
            for post in posts
        ]

    async def queue_sizes(self) -> tuple[int, int]:
        """How many posts are pending and how many failed, in all (`queue` lists the newest)."""
        counts = await self._store.posts.count_by_status()
        failed = sum(counts.get(status, 0) for status in FAILED_STATUSES)
        return counts.get(PostStatus.PENDING, 0), failed
