"""The tables (SPEC section 4) as SQLAlchemy Core, the same on every backend.

The Alembic history (`storage/migrations/versions/`) creates them; a test checks that a
migrated database matches this module exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime: naive UTC text on SQLite (fixed width, so it sorts in time order),
    `timestamptz` on PostgreSQL; always read back aware, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime reached storage: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware UTC, whatever the backend returned."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class NanoUSD(TypeDecorator[Decimal]):
    """An amount of US dollars, kept as whole billionths of a dollar (a BIGINT): exact sums in
    SQL on every backend, and room for $9 billion."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        """Dollars to nano-dollars, rounded half up."""
        if value is None:
            return None
        return int(Decimal(value).scaleb(9).to_integral_value(rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        """Nano-dollars back to dollars."""
        return None if value is None else Decimal(int(value)).scaleb(-9)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

social_platforms = Table(
    "social_platforms",
    metadata,
    Column("id", Text, primary_key=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("char_limit", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("message", Text),
    Column("status", Text, nullable=False),
    Column("social_platform_id", Text, ForeignKey("social_platforms.id"), nullable=False),
    Column("external_id", Text),
    Column("external_url", Text),
    Column("approved_at", UTCDateTime),
    Column("approved_by", Text),
    Column("rejected_by", Text),
    Column("approval_source", Text),
    Column("llm_provider", Text),
    Column("llm_model", Text),
    Column("llm_deployment", Text),
    Column("llm_fallback", Boolean, nullable=False, server_default=text("false")),
    Column("prompt", Text),
    Column("raw_output", Text),
    Column("requester", Text),
    Column("brief", Text),
    Column("tone", Text),
    Column("image_url", Text),
    Column("channel", Text),
    Column("message_ts", Text),
    Column("version", Integer, nullable=False, server_default=text("1")),
    # The request (an opaque idempotency key) and, unique, the request with the platform.
    Column("request_id", Text),
    Column("request_key", Text, unique=True),
    Column("failure_reason", Text),
    Column("edited_by", Text),
    Column("dry_run", Boolean, nullable=False, server_default=text("false")),
    Column("thread", Boolean, nullable=False, server_default=text("false")),
    # Free text from an API request: who asked, shown on the card beside the key's name.
    Column("requested_by", Text),
    # What the post's LLM calls cost so far (every draft, re-prompt and regeneration), kept
    # with the call log (`llm_calls`) in the same transaction.
    Column("llm_cost", NanoUSD, nullable=False, server_default=text("0")),
    Column("llm_call_count", Integer, nullable=False, server_default=text("0")),
    Column("llm_unpriced_count", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The idea's title, for a post the bot proposed itself (SPEC section 7.6).
    Column("title", Text),
    # Time on the card (revision 0014_schedule).
    Column("requested_for", UTCDateTime),
    Column("scheduled_for", UTCDateTime),
    Column("awaiting_since", UTCDateTime),
    Column("reminded_at", UTCDateTime),
    Column("retry_reason", Text),
    Column("next_try_at", UTCDateTime),
    Column("posted_at", UTCDateTime),
    Index(None, "status", "updated_at"),
    Index(None, "request_id"),
    Index(None, "status", "scheduled_for"),
)

post_versions = Table(
    "post_versions",
    metadata,
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("author", Text),
    Column("llm_provider", Text),
    Column("llm_model", Text),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("post_id", "version"),
)

publish_steps = Table(
    "publish_steps",
    metadata,
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("step", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("post_id", "step"),
)

post_approvals = Table(
    "post_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("approver", Text, nullable=False),
    Column("approved_at", UTCDateTime, nullable=False),
    # Set when an edit or a regeneration cleared the approval (it stays, as history).
    Column("cleared_at", UTCDateTime),
    # The time a Schedule… approval chose: the last approval needed schedules the post then.
    Column("post_at", UTCDateTime),
    # One standing approval per person and version: the same approver twice counts once.
    Index(
        "uq_post_approvals_standing",
        "post_id",
        "version",
        "approver",
        unique=True,
        sqlite_where=text("cleared_at IS NULL"),
        postgresql_where=text("cleared_at IS NULL"),
    ),
    sqlite_autoincrement=True,
)
"""Approvals of a post's versions (SOCIALPOST_REQUIRED_APPROVALS, SPEC section 7.5)."""

JOB_STATUSES = ("queued", "running", "done", "dead")

retry_jobs = Table(
    "retry_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE")),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease", UTCDateTime),
    Column("lease_owner", Text),
    Column("last_error", Text),
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("queue", Text),
    Column("key", Text),
    Column("after_job_id", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{status}'" for status in JOB_STATUSES)),
        name="status",
    ),
    # The worker's due-jobs query, and at most one queued and one running job per key (the
    # database itself keeps the rule, whichever process claims).
    Index(None, "status", "next_attempt_at"),
    Index(None, "post_id"),
    Index(
        "uq_retry_jobs_queued_key",
        "key",
        unique=True,
        sqlite_where=text("status = 'queued'"),
        postgresql_where=text("status = 'queued'"),
    ),
    Index(
        "uq_retry_jobs_running_key",
        "key",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
    Index(None, "key", "status"),
    # Ids are never reused: `after_job_id` and leases name jobs by id.
    sqlite_autoincrement=True,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("post_id", Text),
    Column("outcome", Text, nullable=False),
    Column("channel", Text),
    Column("message_ts", Text),
    Column("detail", Text),
    Index(None, "post_id", "at"),
    sqlite_autoincrement=True,
)

api_requests = Table(
    "api_requests",
    metadata,
    # An API request with an Idempotency-Key: the key's name and the key given, what the body
    # was (a digest), and the intake request it became (its posts carry `request_id`).
    Column("caller", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("caller", "idempotency_key"),
)

IDEA_RUN_STATUSES = ("queued", "running", "done", "failed", "missed")

idea_runs = Table(
    "idea_runs",
    metadata,
    # `ideas:<UTC ISO time>` for a scheduled time (the same in every process: the claim), or
    # `ideas:now:<uuid>` for `/socialpost ideas`.
    Column("key", Text, primary_key=True),
    Column("scheduled_for", UTCDateTime),
    Column("requested_by", Text),
    Column("topic", Text),
    Column("status", Text, nullable=False),
    # The ideas kept, once the LLM gave them: a run that is interrupted drafts these again
    # rather than asking for new ones.
    Column("ideas", JSON),
    Column("dropped", Integer, nullable=False, server_default=text("0")),
    Column("drafted", Integer, nullable=False, server_default=text("0")),
    Column("detail", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{s}'" for s in IDEA_RUN_STATUSES)), name="status"
    ),
    Index(None, "created_at"),
)

llm_calls = Table(
    "llm_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE")),
    Column("deployment", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    # NULL: litellm couldn't compute the cost (shown as "cost unknown", never as $0).
    Column("cost", NanoUSD),
    Column("at", UTCDateTime, nullable=False),
    # This month's spend: a range of `at`.
    Index(None, "at"),
    Index(None, "post_id"),
    sqlite_autoincrement=True,
)

budget_warnings = Table(
    "budget_warnings",
    metadata,
    # The UTC calendar month (YYYY-MM) whose 80% warning was sent: one row per month, ever.
    Column("month", Text, primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)

# Shared state of the processes on one database (SPEC 7.1): whatever one process must see of
# another's doing. Times the database compares (bucket refills, circuit holds) are epoch
# seconds on the lease clock (`storage.sql.dialect.clock_epoch`).

rate_buckets = Table(
    "rate_buckets",
    metadata,
    # "user:<id>", "workspace", ...: one row per bucket, created full on its first take.
    Column("key", Text, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated", Float, nullable=False),
)

home_viewers = Table(
    "home_viewers",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Index(None, "opened_at"),
)

circuit_holds = Table(
    "circuit_holds",
    metadata,
    # A platform whose breaker opened in some process: every process waits until `until`.
    Column("name", Text, primary_key=True),
    Column("until", Float, nullable=False),
)
