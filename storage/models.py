"""The records storage returns and takes (SPEC section 4), with aware UTC datetimes.

Every time above storage is a timezone-aware `datetime` in UTC: a naive one is refused, any
other zone is converted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


UTCTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An aware datetime, normalised to UTC."""


class PostStatus(StrEnum):
    """Where a post is in its life; see `services.lifecycle` for the allowed transitions."""

    GENERATING = "generating"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    POSTED = "posted"
    FAILED_GENERATION = "failed_generation"
    FAILED_POST = "failed_post"
    FAILED_APPROVAL_SEND = "failed_approval_send"
    SCHEDULED = "scheduled"  # approved for a time: its publish job waits for `scheduled_for`
    MISSED = "missed"  # scheduled, but socialpost was down past the grace: not published
    EXPIRED = "expired"  # nobody decided within SOCIALPOST_APPROVAL_TTL: not published


FAILED_STATUSES = (
    PostStatus.FAILED_POST,
    PostStatus.FAILED_GENERATION,
    PostStatus.FAILED_APPROVAL_SEND,
)


class JobStatus(StrEnum):
    """Where a job of the retry table is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class Row(BaseModel):
    """A stored record: immutable once read."""

    model_config = ConfigDict(frozen=True)


class Platform(Row):
    """A row of `social_platforms`."""

    id: str
    slug: str
    name: str
    char_limit: int


class PostFields(Row):
    """The columns of a post a caller may write (ids, status and timestamps are storage's)."""

    message: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    approved_at: UTCTime | None = None
    approved_by: str | None = None
    rejected_by: str | None = None
    approval_source: str | None = None
    llm_provider: str | None = None
    llm_model: str | None = None
    llm_deployment: str | None = None
    llm_fallback: bool = False
    prompt: str | None = None
    raw_output: str | None = None
    requester: str | None = None
    brief: str | None = None
    tone: str | None = None
    image_url: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    failure_reason: str | None = None
    edited_by: str | None = None
    dry_run: bool = False
    thread: bool = False
    requested_by: str | None = None
    title: str | None = None
    """The idea's title, for a post the bot proposed itself."""
    # Time on the card (SPEC 7.2): the requester's "Post at", the time a scheduled post
    # publishes at, when the current wait for a decision began and its reminder went out,
    # why (and until when) a publish waits for its next automatic try, and when it went out.
    requested_for: UTCTime | None = None
    scheduled_for: UTCTime | None = None
    awaiting_since: UTCTime | None = None
    reminded_at: UTCTime | None = None
    retry_reason: str | None = None
    next_try_at: UTCTime | None = None
    posted_at: UTCTime | None = None


WRITABLE_POST_FIELDS = frozenset(PostFields.model_fields)


class NewPost(PostFields):
    """A post to create. With a `request_id`, one post per (request, platform) ever exists."""

    id: str
    platform: str
    status: PostStatus
    request_id: str | None = None
    version: int = 1


class Spend(Row):
    """What some LLM calls cost: the sum of the known costs (USD), how many calls there were,
    and how many of them litellm couldn't price."""

    known: Decimal = Decimal(0)
    calls: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, costs: Iterable[Decimal | None]) -> Spend:
        """The spend of calls with these costs (None: unknown)."""
        listed = list(costs)
        known = [cost for cost in listed if cost is not None]
        return cls(
            known=sum(known, Decimal(0)), calls=len(listed), unknown=len(listed) - len(known)
        )

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            known=self.known + other.known,
            calls=self.calls + other.calls,
            unknown=self.unknown + other.unknown,
        )

    @property
    def fully_known(self) -> bool:
        """Whether every call's cost is known (so `known` is the whole cost)."""
        return self.unknown == 0


class Post(PostFields):
    """A row of `posts`, with its platform's slug."""

    id: str
    status: PostStatus
    platform: str
    version: int = 1
    request_id: str | None = None
    request_key: str | None = None
    llm_cost: Decimal = Decimal(0)
    """The known cost of the post's LLM calls so far (storage keeps it with `llm_calls`)."""
    llm_call_count: int = 0
    llm_unpriced_count: int = 0
    created_at: UTCTime
    updated_at: UTCTime

    @property
    def spend(self) -> Spend:
        """What drafting this post has cost: every draft, re-prompt and regeneration."""
        return Spend(
            known=self.llm_cost, calls=self.llm_call_count, unknown=self.llm_unpriced_count
        )


class PostVersion(Row):
    """One version of a post's text: generated, regenerated or edited."""

    post_id: str
    version: int
    message: str
    source: str
    author: str | None = None
    llm_provider: str | None = None
    llm_model: str | None = None
    created_at: UTCTime


class Approval(Row):
    """One person's approval of one version of a post; `cleared_at` once an edit or a
    regeneration cleared it."""

    post_id: str
    version: int
    approver: str
    approved_at: UTCTime
    cleared_at: UTCTime | None = None
    post_at: UTCTime | None = None
    """The time a Schedule… approval chose (None for Approve & post)."""


class NewJob(Row):
    """A job to queue.

    `key`: at most one queued job per key (a second one is absorbed by the first) and at most
    one running at a time. `after_job_id`: wait until that job has had its first try.
    """

    kind: str
    post_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    run_at: UTCTime
    key: str | None = None
    after_job_id: int | None = None


class Job(Row):
    """A row of `retry_jobs`: one durable piece of work and its retry state."""

    id: int
    kind: str
    post_id: str | None
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: UTCTime
    lease: UTCTime | None = None
    lease_owner: str | None = None
    last_error: str | None = None
    status: JobStatus
    queue: str | None = None
    key: str | None = None
    after_job_id: int | None = None
    created_at: UTCTime
    updated_at: UTCTime


class AuditEntry(Row):
    """A row of `audit_log`: who did or tried what to which post."""

    id: int
    at: UTCTime
    actor: str
    action: str
    post_id: str | None
    outcome: str
    channel: str | None = None
    message_ts: str | None = None
    detail: str | None = None


class ApiRequest(Row):
    """A row of `api_requests`: an Idempotency-Key of one API key, the digest of the body it
    came with, and the intake request it became."""

    caller: str
    idempotency_key: str
    fingerprint: str
    request_id: str
    created_at: UTCTime


class IdeaRunStatus(StrEnum):
    """Where a run of the ideas schedule (or of `/socialpost ideas`) is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    MISSED = "missed"


class NewIdeaRun(Row):
    """A run to claim: a scheduled time (`scheduled_for`) or a request now (`requested_by`)."""

    key: str
    scheduled_for: UTCTime | None = None
    requested_by: str | None = None
    topic: str | None = None


class IdeaRun(Row):
    """A row of `idea_runs`."""

    key: str
    scheduled_for: UTCTime | None = None
    requested_by: str | None = None
    topic: str | None = None
    status: IdeaRunStatus
    ideas: list[dict[str, Any]] | None = None
    dropped: int = 0
    drafted: int = 0
    detail: str | None = None
    created_at: UTCTime
    updated_at: UTCTime


class Seen(Row):
    """Something recent to compare a new idea with: an idea (`title` and its description as
    `text`) or a post (its brief, and its idea's title when an idea made it)."""

    text: str
    title: str | None = None


class NewLLMCall(Row):
    """One LLM call to log: who answered, the tokens it reported, what litellm says it cost."""

    post_id: str | None = None
    deployment: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: Decimal | None = None
    """USD; None when litellm couldn't compute it."""


class LLMCall(NewLLMCall):
    """A row of `llm_calls`."""

    id: int
    at: UTCTime
