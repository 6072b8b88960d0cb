"""The storage contract: what services may ask of any backend (SQLite, PostgreSQL).

Reads outside a transaction (`store.posts`, `store.jobs`, `store.audit`) each see the latest
commit. Writes happen inside `store.transaction()`: one transaction, committed when the block
ends normally and rolled back on any error, cancellation included. Every time is an aware UTC
`datetime`. `tests/storage/` is the suite every backend must pass.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage.models import (
    ApiRequest,
    Approval,
    AuditEntry,
    IdeaRun,
    IdeaRunStatus,
    Job,
    JobStatus,
    LLMCall,
    NewIdeaRun,
    NewJob,
    NewLLMCall,
    NewPost,
    Platform,
    Post,
    PostStatus,
    PostVersion,
    Seen,
    Spend,
)

_background: ContextVar[bool] = ContextVar("socialpost_background_work", default=False)


@contextmanager
def background_work() -> Iterator[None]:
    """Mark the transactions of this task (and of tasks it starts) as background work.

    A backend that serialises writers (SQLite) lets interactive transactions, made for someone
    waiting in Slack, go first; the jobs worker and drafting run inside this.
    """
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def is_background_work() -> bool:
    """Whether the current task runs inside `background_work()`."""
    return _background.get()


class PostReads(Protocol):
    """Reading posts, their versions, publishing steps and platforms."""

    async def get(self, post_id: str) -> Post | None:
        """The post with this id."""

    async def for_request(self, request_id: str) -> list[Post]:
        """Every post created for one request (one per platform), in creation order."""

    async def with_status(
        self, statuses: Iterable[PostStatus], *, limit: int = 50, newest_first: bool = True
    ) -> list[Post]:
        """Posts in any of `statuses`, by last change."""

    async def scheduled(self, *, limit: int = 50) -> list[Post]:
        """Posts scheduled for a time, soonest first."""

    async def versions(self, post_id: str) -> list[PostVersion]:
        """The post's history, oldest first."""

    async def publish_steps(self, post_id: str) -> dict[str, str]:
        """The publishing steps already done for the post: step -> the platform's id."""

    async def count_by_status(self) -> dict[PostStatus, int]:
        """How many posts are in each status."""

    async def platforms(self) -> list[Platform]:
        """Every platform, by slug."""


class PostRepository(PostReads, Protocol):
    """Writing posts (inside a transaction)."""

    async def create(self, post: NewPost) -> tuple[Post, bool]:
        """Insert a post; when its request already made a post for this platform, return that
        one instead. Returns the post and whether this call created it. `ValueError` for an
        unknown platform."""

    async def transition(
        self,
        post_id: str,
        from_statuses: Iterable[PostStatus],
        to_status: PostStatus,
        *,
        version: int | None = None,
        **fields: Any,
    ) -> Post | None:
        """Move the post to `to_status` only if it is in one of `from_statuses` (and, given
        `version`, only if that is its current version), setting `fields` too.

        One conditional UPDATE: of two concurrent transitions from the same status exactly one
        gets the post back; the other gets None.
        """

    async def update(
        self,
        post_id: str,
        *,
        only_if: Iterable[PostStatus] | None = None,
        version: int | None = None,
        **fields: Any,
    ) -> Post | None:
        """Set `fields` without changing the status, optionally only in some statuses or only
        at one version; None when nothing matched."""

    async def add_version(
        self,
        post_id: str,
        message: str,
        source: str,
        *,
        author: str | None = None,
        llm_provider: str | None = None,
        llm_model: str | None = None,
    ) -> Post | None:
        """Make `message` the post's next version: the post's `version` goes up by one, its
        `message` becomes this text and the history keeps it. Returns the post."""

    async def add_publish_step(self, post_id: str, step: str, external_id: str) -> None:
        """Remember that a publishing step is done (the platform answered with this id)."""

    async def upsert_platform(self, slug: str, name: str, char_limit: int) -> Platform:
        """Create the platform or update its name and limit."""


class JobReads(Protocol):
    """Reading the retry table."""

    async def get(self, job_id: int) -> Job | None:
        """The job with this id."""

    async def for_post(self, post_id: str) -> list[Job]:
        """Every job of a post, oldest first."""

    async def with_status(self, status: JobStatus, *, limit: int = 50) -> list[Job]:
        """Jobs in `status`, newest first."""

    async def next_due_at(self, *, after: datetime | None = None) -> datetime | None:
        """When `claim_due` may next find work without anything else happening: the earliest
        due time of a queued job that nothing holds back, or the earliest lease to expire
        (only times later than `after`, if given)."""

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many jobs there are per (kind, status)."""

    async def count(self, status: JobStatus, *, except_posts: Collection[str] = ()) -> int:
        """How many jobs are in `status`, leaving out the jobs of the posts `except_posts`
        (jobs of no post always count)."""


class JobRepository(JobReads, Protocol):
    """Writing the retry table (inside a transaction). Finishing a job is fenced by its lease
    owner: a worker whose lease was taken over changes nothing and gets False."""

    async def enqueue(self, job: NewJob) -> int:
        """Queue a job; returns its id. With a `key` already queued, that job absorbs this one
        (it becomes due at the earlier of the two times) and its id is returned."""

    async def enqueue_leased(self, job: NewJob, *, owner: str, lease: timedelta) -> Job | None:
        """Queue a job that is due now as already running, leased to `owner` for `lease` (as
        if `owner` had claimed it: its first attempt), so its worker can start it as soon as
        the transaction commits. None, with nothing written, when a job of its `key` is
        queued or running (`enqueue` it then)."""

    async def cancel(self, key: str) -> bool:
        """Cancel the queued job with this key (it is deleted); whether there was one."""

    async def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        lease: timedelta,
        owner: str,
        exclude: Collection[int] = (),
        kinds: Collection[str] | None = None,
        except_kinds: Collection[str] = (),
    ) -> list[Job]:
        """Lease up to `limit` jobs to `owner`: queued and due at `now`, or running with an
        expired lease. A job waits while another job of its key runs, and while its
        `after_job_id` job hasn't had its first try. `exclude`: jobs `owner` still runs,
        whatever their lease says. `kinds`: only jobs of these kinds; `except_kinds`: none of
        these (a worker with a limit per kind claims each kind's room on its own). One
        statement per batch.

        Leases are on the backend's clock: `now + lease` on SQLite (one process, one clock);
        the database's own clock on PostgreSQL (processes on several machines share the
        leases, and their clocks may disagree), both to set a lease and to see it expired."""

    async def renew(self, job_ids: Collection[int], *, owner: str, lease: timedelta) -> set[int]:
        """Extend the leases `owner` still holds; returns the ids renewed."""

    async def complete(self, job_id: int, *, owner: str) -> bool:
        """The job did its work."""

    async def reschedule(
        self,
        job_id: int,
        *,
        owner: str,
        run_at: datetime,
        error: str | None,
        count_attempt: bool = True,
    ) -> bool:
        """Queue the job again for `run_at`; without `count_attempt` this run doesn't count.
        If its key already has a queued job, that one absorbs it."""

    async def bury(self, job_id: int, *, owner: str, queue: str, error: str) -> bool:
        """The job failed for good: it moves to the dead-letter `queue`."""

    async def revive(self, job_id: int, *, run_at: datetime) -> bool:
        """Take a dead job out of its dead-letter queue and run it again from scratch."""

    async def requeue_running(self, now: datetime) -> int:
        """Every running job whose process is known to be gone is due again at `now`: on
        SQLite every running job (at start-up the file lock proves the process that ran them
        is gone); on a shared database (PostgreSQL) only those whose lease has ended, since
        other processes may be running the rest. Returns how many."""

    async def prune_done(self, before: datetime) -> int:
        """Forget finished jobs last changed before `before`; returns how many."""


class AuditReads(Protocol):
    """Reading the audit trail."""

    async def for_post(self, post_id: str) -> list[AuditEntry]:
        """The post's trail, oldest first."""

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries, newest first."""


class AuditLog(AuditReads, Protocol):
    """Appending to the audit trail (inside a transaction)."""

    async def record(
        self,
        *,
        actor: str,
        action: str,
        post_id: str | None,
        outcome: str,
        channel: str | None = None,
        message_ts: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry."""


class ApiRequestReads(Protocol):
    """Reading the Idempotency-Keys of API requests."""

    async def get(self, caller: str, idempotency_key: str) -> ApiRequest | None:
        """The request this API key made with this Idempotency-Key, if any."""


class ApiRequests(ApiRequestReads, Protocol):
    """Recording the Idempotency-Keys of API requests (inside a transaction)."""

    async def claim(self, request: ApiRequest, *, replace_before: datetime) -> ApiRequest:
        """Record `request` unless its key is taken: the row as it is now stored. A row of
        the same key created before `replace_before` is stale and replaced; a fresher one is
        kept and returned (another request with this key got there first)."""


class ApprovalReads(Protocol):
    """Reading who approved which version of a post."""

    async def for_post(self, post_id: str) -> list[Approval]:
        """Every approval of the post, standing or cleared, oldest first."""

    async def for_posts(self, post_ids: Collection[str]) -> dict[str, list[Approval]]:
        """Every approval of each of the posts, oldest first (posts without any left out)."""

    async def standing(self, post_id: str, version: int) -> list[str]:
        """Who approved `version` of the post (and wasn't cleared since), first one first."""


class ApprovalRepository(ApprovalReads, Protocol):
    """Recording and clearing approvals (inside a transaction)."""

    async def add(
        self, post_id: str, version: int, approver: str, post_at: datetime | None = None
    ) -> bool:
        """Record `approver`'s approval of `version` (with `post_at`, a Schedule… for that
        time); False when it already stands."""

    async def clear(self, post_id: str) -> list[str]:
        """Clear every standing approval of the post (they stay, stamped); who they were
        from."""


class IdeaRunReads(Protocol):
    """Reading the runs of the ideas schedule, and what they must not repeat."""

    async def get(self, key: str) -> IdeaRun | None:
        """The run with this key."""

    async def recent(self, limit: int = 10) -> list[IdeaRun]:
        """The newest runs, newest first."""

    async def seen_since(self, since: datetime) -> list[Seen]:
        """The ideas kept by runs created since `since`, and the posts created since then
        (brief and idea title), newest first."""


class IdeaRunRepository(IdeaRunReads, Protocol):
    """Claiming and recording runs (inside a transaction)."""

    async def claim(self, run: NewIdeaRun) -> bool:
        """Insert the run (status `queued`) unless its key exists; whether it was inserted.
        Of any number of processes claiming one key at once, exactly one gets True."""

    async def save_ideas(self, key: str, ideas: list[dict[str, Any]], *, dropped: int) -> None:
        """Record the ideas a run kept (and how many it dropped as duplicates); status
        `running`."""

    async def finish(
        self, key: str, status: IdeaRunStatus, *, drafted: int = 0, detail: str | None = None
    ) -> None:
        """Record how the run ended."""


class LLMCallReads(Protocol):
    """Reading the log of LLM calls and what they cost."""

    async def for_post(self, post_id: str) -> list[LLMCall]:
        """The post's calls, oldest first."""

    async def spend(self, start: datetime, end: datetime) -> Spend:
        """What the calls made from `start` (included) to `end` (excluded) cost, summed by
        the database (so every process sees the same spend)."""

    async def budget_warned(self, month: str) -> bool:
        """Whether the budget warning of `month` (YYYY-MM) was claimed."""


class LLMCallLog(LLMCallReads, Protocol):
    """Logging LLM calls (inside a transaction)."""

    async def record(self, call: NewLLMCall) -> LLMCall:
        """Log one call, stamped now; a call for a post adds to the post's cost too."""

    async def claim_budget_warning(self, month: str) -> bool:
        """Claim the one budget warning of `month` (YYYY-MM): True for exactly one claimant
        ever, whatever the number of processes; False once claimed."""


class RateBuckets(Protocol):
    """Token buckets every process shares (inside a transaction): a bucket holds up to
    `capacity` tokens and refills continuously, completely over `per_seconds`, on the
    database's clock. Keyed by a string ("user:<id>", "workspace", ...), so a new kind of
    limit is a new key."""

    async def take(self, key: str, cost: float, *, capacity: float, per_seconds: float) -> float:
        """Take `cost` tokens from bucket `key` if it holds them (a cost above `capacity`
        takes a full bucket): 0.0 when taken, else the seconds until the tokens are there,
        and nothing is taken. One conditional UPDATE: concurrent takes from any processes
        never spend more than the bucket holds. A bucket's first take finds it full."""


class HomeViewerReads(Protocol):
    """Reading who keeps an App Home tab open."""

    async def recent(self, limit: int) -> list[str]:
        """The `limit` users who opened their tab most recently, most recent first."""


class HomeViewers(HomeViewerReads, Protocol):
    """Remembering App Home viewers (inside a transaction)."""

    async def opened(self, user_id: str, *, keep: int) -> None:
        """`user_id` opened their tab now; all but the `keep` most recent viewers are
        forgotten."""


class CircuitHoldReads(Protocol):
    """Reading the circuit holds: names (platforms) every process leaves alone for a while."""

    async def held_for(self, name: str) -> float | None:
        """Seconds the hold on `name` lasts still, on the database's clock; None when there
        is none."""


class CircuitHolds(CircuitHoldReads, Protocol):
    """Setting circuit holds (inside a transaction)."""

    async def hold(self, name: str, seconds: float) -> None:
        """Hold `name` for `seconds` from now, on the database's clock (a hold that lasts
        longer already stays)."""


class Transaction(Protocol):
    """The repositories of one write transaction, all on its connection."""

    @property
    def posts(self) -> PostRepository:
        """Posts, inside the transaction."""

    @property
    def jobs(self) -> JobRepository:
        """The retry table, inside the transaction."""

    @property
    def audit(self) -> AuditLog:
        """The audit trail, inside the transaction."""

    @property
    def api_requests(self) -> ApiRequests:
        """API requests' Idempotency-Keys, inside the transaction."""

    @property
    def approvals(self) -> ApprovalRepository:
        """Approvals of posts' versions, inside the transaction."""

    @property
    def ideas(self) -> IdeaRunRepository:
        """The ideas schedule's runs, inside the transaction."""

    @property
    def llm_calls(self) -> LLMCallLog:
        """The LLM call log, inside the transaction."""

    @property
    def buckets(self) -> RateBuckets:
        """The shared rate-limit buckets, inside the transaction."""

    @property
    def viewers(self) -> HomeViewers:
        """The App Home viewers, inside the transaction."""

    @property
    def holds(self) -> CircuitHolds:
        """The circuit holds, inside the transaction."""

    @property
    def committed(self) -> bool:
        """Whether the transaction has committed (False inside it, and after a rollback)."""


class Store(Protocol):
    """One database, open for the life of the process."""

    @property
    def posts(self) -> PostReads:
        """Posts; each read sees the latest commit."""

    @property
    def jobs(self) -> JobReads:
        """The retry table; each read sees the latest commit."""

    @property
    def audit(self) -> AuditReads:
        """The audit trail; each read sees the latest commit."""

    @property
    def api_requests(self) -> ApiRequestReads:
        """API requests' Idempotency-Keys; each read sees the latest commit."""

    @property
    def approvals(self) -> ApprovalReads:
        """Approvals of posts' versions; each read sees the latest commit."""

    @property
    def ideas(self) -> IdeaRunReads:
        """The ideas schedule's runs; each read sees the latest commit."""

    @property
    def llm_calls(self) -> LLMCallReads:
        """The LLM call log; each read sees the latest commit."""

    @property
    def viewers(self) -> HomeViewerReads:
        """The App Home viewers; each read sees the latest commit."""

    @property
    def holds(self) -> CircuitHoldReads:
        """The circuit holds; each read sees the latest commit."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """One write transaction: committed when the block ends normally, rolled back on any
        error, cancellation at any await point included."""

    async def wait_for_jobs(self, timeout: float) -> bool:
        """Wait until a transaction that queued work commits, or `timeout` seconds pass
        (then False). On SQLite: this process's transactions; on PostgreSQL: any process's
        (LISTEN/NOTIFY). Work queued since the previous call returned counts. One waiter (the
        jobs worker), whose `timeout` is its slow poll: a wake-up is a hint, the table the
        truth."""

    async def ping(self) -> None:
        """Raise `StorageUnavailable` unless the database answers."""

    async def close(self) -> None:
        """Close every connection (and give up the SQLite file)."""
