"""App Home: each viewer's view of the queue, refreshed when it is opened and when it changes.

The viewers are remembered in memory (the most recent `MAX_VIEWERS`); after a restart a tab
refreshes again the next time its owner opens it. A change refreshes only the
`REFRESH_PER_CHANGE` most recent viewers' tabs (everyone else's refreshes when they next open
it), after `debounce` seconds in which further changes coalesce, from one read of the queue.
Refreshes go one at a time and stop while Slack asks us to hold back, then pick up again: the
cards and publishes that share Slack's rate limits never wait for App Home.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from services.approval import ApprovalPolicy
from services.notifier import DeliveryError, Notifier
from services.posts import PostService
from storage import Store
from storage.models import Job, JobStatus, Post

log = structlog.get_logger(__name__)

MAX_VIEWERS = 200
REFRESH_PER_CHANGE = 20
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
    # How many there are in all: the lists hold the newest `LIST_LENGTH`.
    pending_total: int
    failed_total: int
    dead_jobs_total: int


@dataclass(frozen=True)
class _Queue:
    """The queue as everyone sees it, read once per refresh."""

    pending: list[Post]
    failed: list[Post]
    dead_jobs: list[Job]
    posted: list[Post]
    # pending, failed and dead jobs in all (the lists hold the newest `LIST_LENGTH`)
    totals: tuple[int, int, int]


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
        scrub: Callable[[str], str] = str,
    ) -> None:
        self._store = store
        self._posts = posts
        self._notifier = notifier
        self._policy = policy
        self._debounce = debounce
        self._scrub = scrub
        self._viewers: OrderedDict[str, None] = OrderedDict()
        self._changed = False
        self._refresh: asyncio.Task[None] | None = None

    async def _queue(self) -> _Queue:
        pending, failed, posted = await self._posts.queue(limit=LIST_LENGTH)
        pending_total, failed_total = await self._posts.queue_sizes()
        failed_ids = {post.id for post in failed}
        dead = await self._store.jobs.with_status(JobStatus.DEAD, limit=LIST_LENGTH * 2)
        dead_total = await self._store.jobs.count(JobStatus.DEAD, except_posts=failed_ids)
        # Dead jobs of failed posts are retried through the post; list the others. Their
        # errors quote third parties: the same redaction as the card's.
        dead_jobs = [
            job.model_copy(update={"last_error": self._scrub(job.last_error)})
            if job.last_error
            else job
            for job in dead
            if job.post_id not in failed_ids
        ]
        return _Queue(
            pending,
            failed,
            dead_jobs[:LIST_LENGTH],
            posted,
            totals=(pending_total, failed_total, dead_total),
        )

    def _data_for(self, user_id: str, queue: _Queue) -> HomeData:
        pending_total, failed_total, dead_total = queue.totals
        return HomeData(
            viewer=user_id,
            is_approver=self._policy.is_approver(user_id),
            pending=queue.pending,
            failed=queue.failed,
            dead_jobs=queue.dead_jobs,
            posted=queue.posted,
            pending_total=pending_total,
            failed_total=failed_total,
            dead_jobs_total=dead_total,
        )

    async def data(self, user_id: str) -> HomeData:
        """The queue as `user_id` sees it."""
        return self._data_for(user_id, await self._queue())

    async def opened(self, user_id: str) -> None:
        """`user_id` opened the tab: show the queue and keep it fresh from now on."""
        self._viewers.pop(user_id, None)
        self._viewers[user_id] = None
        while len(self._viewers) > MAX_VIEWERS:
            self._viewers.popitem(last=False)
        try:
            await self._notifier.show_home(user_id, await self.data(user_id))
        except DeliveryError as exc:
            log.warning("home_refresh_failed", user=user_id, reason=exc.reason)
            if not exc.attempted:
                # Slack asked us to hold back: the refresh round waits, then shows it.
                self.changed()

    def changed(self) -> None:
        """Something in the queue changed: refresh the recent viewers' tabs soon (changes
        coalesce, also with one arriving while a refresh runs)."""
        if not self._viewers:
            return
        self._changed = True
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._refresh_while_changed(), name="home-refresh")

    async def _refresh_while_changed(self) -> None:
        while self._changed:
            await asyncio.sleep(self._debounce)
            self._changed = False
            paused_for = await self._refresh_recent()
            if paused_for is not None:
                # Slack asked us to hold back: try the whole round again once it allows.
                self._changed = True
                await asyncio.sleep(paused_for)

    async def _refresh_recent(self) -> float | None:
        """Refresh the most recent viewers' tabs; the wait Slack asked for if it stopped us."""
        queue = await self._queue()
        recent = list(reversed(self._viewers))[:REFRESH_PER_CHANGE]
        for user_id in recent:
            try:
                await self._notifier.show_home(user_id, self._data_for(user_id, queue))
            except DeliveryError as exc:
                if not exc.attempted or exc.retry_after is not None:
                    return exc.retry_after or 1.0
                log.warning("home_refresh_failed", user=user_id, reason=exc.reason)
        return None

    async def idle(self) -> None:
        """Wait until no refresh is pending (tests and benchmarks)."""
        while self._refresh is not None and not self._refresh.done():
            await asyncio.gather(self._refresh, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop a pending refresh."""
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
