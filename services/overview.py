"""The queue as people see it: what `/socialpost status` and App Home list.

Pending and failed posts come with the actions the viewer may take on each (asked of
`services.policy`, never worked out again by whoever shows them); dead jobs with their kind's
label from the job-type registry. Failure reasons and job errors quote third parties, so they
get the same redaction as the card's. Each list holds the newest `LIST_LENGTH`; the totals say
how many there are in all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from services.approvals import ApprovalState
from services.drafting.budget import BudgetGuard
from services.jobs import JobTypes
from services.lifecycle import Action
from services.policy import Policy
from storage import Store
from storage.models import FAILED_STATUSES, Job, JobStatus, Post, PostStatus, Spend

LIST_LENGTH = 10
# A post that missed its scheduled time is listed with the failures: Retry or Discard it.
LISTED_AS_FAILED = (*FAILED_STATUSES, PostStatus.MISSED)


@dataclass(frozen=True)
class Listed:
    """A post in a list, and what the viewer may do to it now."""

    post: Post
    actions: frozenset[Action]
    approvals: ApprovalState | None = None
    """For a pending post when several approvals are needed: who approved it so far."""


@dataclass(frozen=True)
class DeadJob:
    """A job that failed for good (and isn't retried through its post): its kind's label, and
    whether the viewer may run it again."""

    job: Job
    label: str
    may_retry: bool


@dataclass(frozen=True)
class Snapshot:
    """The queue as everyone sees it, read once (then shown to each viewer)."""

    pending: list[Post]
    failed: list[Post]
    dead_jobs: list[Job]
    posted: list[Post]
    pending_total: int
    failed_total: int
    dead_jobs_total: int
    scheduled: list[Post] = field(default_factory=list)
    """Scheduled posts, soonest first."""
    scheduled_total: int = 0
    approvals: dict[str, ApprovalState] = field(default_factory=dict)
    """The approvals collected by each pending post, when several are needed."""


@dataclass(frozen=True)
class StatusData:
    """What `/socialpost status` shows one person."""

    pending: list[Listed]
    failed: list[Listed]
    pending_total: int
    failed_total: int
    dead_jobs: dict[str, int] = field(default_factory=dict)
    """Jobs in a dead-letter queue, by their kind's label (undelivered webhooks among them)."""
    month_spend: Spend | None = None
    """This calendar month's (UTC) LLM spend."""
    budget: Decimal | None = None
    """SOCIALPOST_LLM_MONTHLY_BUDGET, when set."""
    scheduled: list[Listed] = field(default_factory=list)
    scheduled_total: int = 0


@dataclass(frozen=True)
class HomeData:
    """What one person's App Home shows."""

    viewer: str
    pending: list[Listed]
    failed: list[Listed]
    dead_jobs: list[DeadJob]
    posted: list[Post]
    pending_total: int
    failed_total: int
    dead_jobs_total: int
    scheduled: list[Listed] = field(default_factory=list)
    scheduled_total: int = 0


class Overview:
    """Reads the queue for the places that list it."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        job_types: JobTypes,
        *,
        scrub: Callable[[str], str] = str,
        budget: BudgetGuard | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._job_types = job_types
        self._scrub = scrub
        self._budget = budget

    async def get(self, post_id: str) -> Post | None:
        """The post with this id."""
        return await self._store.posts.get(post_id)

    def _shown(self, posts: list[Post]) -> list[Post]:
        return [
            post.model_copy(update={"failure_reason": self._scrub(post.failure_reason)})
            if post.failure_reason
            else post
            for post in posts
        ]

    async def snapshot(self, *, dead_jobs: bool = True) -> Snapshot:
        """Pending, failed and recently posted posts, newest first (and dead jobs), with the
        totals."""
        posts = self._store.posts
        pending = self._shown(await posts.with_status([PostStatus.PENDING], limit=LIST_LENGTH))
        failed = self._shown(await posts.with_status(LISTED_AS_FAILED, limit=LIST_LENGTH))
        posted = await posts.with_status([PostStatus.POSTED], limit=LIST_LENGTH)
        scheduled = await posts.scheduled(limit=LIST_LENGTH)
        approvals = await self._approvals(pending)
        counts = await posts.count_by_status()
        failed_total = sum(counts.get(status, 0) for status in LISTED_AS_FAILED)
        dead: list[Job] = []
        dead_total = 0
        if dead_jobs:
            failed_ids = {post.id for post in failed}
            found = await self._store.jobs.with_status(JobStatus.DEAD, limit=LIST_LENGTH * 2)
            dead_total = await self._store.jobs.count(JobStatus.DEAD, except_posts=failed_ids)
            # Dead jobs of failed posts are retried through the post; list the others.
            dead = [
                job.model_copy(update={"last_error": self._scrub(job.last_error)})
                if job.last_error
                else job
                for job in found
                if job.post_id not in failed_ids
            ][:LIST_LENGTH]
        return Snapshot(
            pending=pending,
            failed=failed,
            dead_jobs=dead,
            posted=posted,
            pending_total=counts.get(PostStatus.PENDING, 0),
            failed_total=failed_total,
            dead_jobs_total=dead_total,
            scheduled=scheduled,
            scheduled_total=counts.get(PostStatus.SCHEDULED, 0),
            approvals=approvals,
        )

    async def _approvals(self, pending: list[Post]) -> dict[str, ApprovalState]:
        """Who approved each pending post so far; nothing to say with one approval needed
        (the first one moves the post on)."""
        if self._policy.rule.required <= 1 or not pending:
            return {}
        found = await self._store.approvals.for_posts([post.id for post in pending])
        return {
            post.id: self._policy.approvals_of(post, found.get(post.id, [])) for post in pending
        }

    def _listed(
        self, viewer: str, posts: list[Post], approvals: dict[str, ApprovalState] | None = None
    ) -> list[Listed]:
        shown = approvals or {}
        return [
            Listed(post, self._policy.allowed_actions(viewer, post), shown.get(post.id))
            for post in posts
        ]

    def home_for(self, viewer: str, snapshot: Snapshot) -> HomeData:
        """The snapshot as `viewer`'s App Home shows it."""
        may_retry = self._policy.may_retry_jobs(viewer)
        return HomeData(
            viewer=viewer,
            pending=self._listed(viewer, snapshot.pending, snapshot.approvals),
            failed=self._listed(viewer, snapshot.failed),
            dead_jobs=[
                DeadJob(job, self._job_types.label(job.kind), may_retry)
                for job in snapshot.dead_jobs
            ],
            posted=snapshot.posted,
            pending_total=snapshot.pending_total,
            failed_total=snapshot.failed_total,
            dead_jobs_total=snapshot.dead_jobs_total,
            scheduled=self._listed(viewer, snapshot.scheduled),
            scheduled_total=snapshot.scheduled_total,
        )

    async def home(self, viewer: str) -> HomeData:
        """The queue as `viewer`'s App Home shows it."""
        return self.home_for(viewer, await self.snapshot())

    async def status(self, viewer: str) -> StatusData:
        """The pending and failed posts as `/socialpost status` shows them to `viewer`."""
        snapshot = await self.snapshot(dead_jobs=False)
        dead: dict[str, int] = {}
        for (kind, status), count in sorted((await self._store.jobs.counts()).items()):
            if status == JobStatus.DEAD.value and count:
                label = self._job_types.label(kind)
                dead[label] = dead.get(label, 0) + count
        spend = await self._budget.spent_this_month() if self._budget is not None else None
        return StatusData(
            pending=self._listed(viewer, snapshot.pending),
            failed=self._listed(viewer, snapshot.failed),
            pending_total=snapshot.pending_total,
            failed_total=snapshot.failed_total,
            dead_jobs=dead,
            month_spend=spend,
            budget=self._budget.budget.limit if self._budget is not None else None,
            scheduled=self._listed(viewer, snapshot.scheduled),
            scheduled_total=snapshot.scheduled_total,
        )
