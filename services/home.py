"""App Home: each viewer's view of the queue, refreshed when it is opened and on every change.

The viewers are remembered in memory (the most recent `MAX_VIEWERS`); after a restart a tab
refreshes again the next time its owner opens it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

import structlog

from services.approval import ApprovalPolicy
from services.notifier import DeliveryError, Notifier
from services.posts import PostService
from storage import Store
from storage.models import Job, JobStatus, Post

log = structlog.get_logger(__name__)

MAX_VIEWERS = 200
LIST_LENGTH = 10


@dataclass(frozen=True)
class HomeData:
    """What one person's App Home shows."""

    viewer: str
    is_approver: bool
    pending: list[Post]
    failed: list[Post]
    dead_jobs: list[Job]
    posted: list[Post]


class HomeService:
    """Builds and refreshes App Home tabs."""

    def __init__(
        self,
        store: Store,
        posts: PostService,
        notifier: Notifier,
        policy: ApprovalPolicy,
        *,
        debounce: float = 0.3,
    ) -> None:
        self._store = store
        self._posts = posts
        self._notifier = notifier
        self._policy = policy
        self._debounce = debounce
        self._viewers: OrderedDict[str, None] = OrderedDict()
        self._refresh: asyncio.Task[None] | None = None

    async def data(self, user_id: str) -> HomeData:
        """The queue as `user_id` sees it."""
        pending, failed, posted = await self._posts.queue(limit=LIST_LENGTH)
        failed_ids = {post.id for post in failed}
        dead = await self._store.jobs.with_status(JobStatus.DEAD, limit=LIST_LENGTH * 2)
        return HomeData(
            viewer=user_id,
            is_approver=self._policy.is_approver(user_id),
            pending=pending,
            failed=failed,
            # Dead jobs of failed posts are retried through the post; list the others.
            dead_jobs=[job for job in dead if job.post_id not in failed_ids][:LIST_LENGTH],
            posted=posted,
        )

    async def opened(self, user_id: str) -> None:
        """`user_id` opened the tab: show the queue and keep it fresh from now on."""
        self._viewers.pop(user_id, None)
        self._viewers[user_id] = None
        while len(self._viewers) > MAX_VIEWERS:
            self._viewers.popitem(last=False)
        await self._show(user_id)

    def changed(self) -> None:
        """Something in the queue changed: refresh every open tab soon (changes coalesce)."""
        if self._viewers and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._refresh_all(), name="home-refresh")

    async def _refresh_all(self) -> None:
        await asyncio.sleep(self._debounce)
        for user_id in list(self._viewers):
            await self._show(user_id)

    async def _show(self, user_id: str) -> None:
        try:
            await self._notifier.show_home(user_id, await self.data(user_id))
        except DeliveryError as exc:
            # The tab is refreshed again on the next change or the next visit.
            log.warning("home_refresh_failed", user=user_id, reason=exc.reason)

    async def aclose(self) -> None:
        """Stop a pending refresh."""
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
