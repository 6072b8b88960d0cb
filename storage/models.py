"""Rows of the data model (SPEC section 4) as typed values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class PostStatus(StrEnum):
    """Where a post is in its life; see `services.approval` for the allowed transitions."""

    GENERATING = "generating"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    POSTED = "posted"
    FAILED_GENERATION = "failed_generation"
    FAILED_POST = "failed_post"
    FAILED_APPROVAL_SEND = "failed_approval_send"


FAILED_STATUSES = (
    PostStatus.FAILED_POST,
    PostStatus.FAILED_GENERATION,
    PostStatus.FAILED_APPROVAL_SEND,
)


class JobStatus(StrEnum):
    """Where a retry-table job is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class Row(BaseModel):
    """A table row: immutable once read."""

    model_config = ConfigDict(frozen=True)


class Platform(Row):
    """A row of `social_platforms`."""

    id: str
    slug: str
    name: str
    char_limit: int


class Post(Row):
    """A row of `posts`, with its platform's slug."""

    id: str
    status: PostStatus
    platform: str
    message: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    approved_at: str | None = None
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
    version: int = 1
    request_key: str | None = None
    failure_reason: str | None = None
    edited_by: str | None = None
    dry_run: bool = False
    thread: bool = False
    created_at: str
    updated_at: str


class PostVersion(Row):
    """One version of a post's text: generated, regenerated or edited."""

    post_id: str
    version: int
    message: str
    source: str
    author: str | None = None
    llm_provider: str | None = None
    llm_model: str | None = None
    created_at: str


class Job(Row):
    """A row of `retry_jobs`: one durable piece of work and its retry state."""

    id: int
    kind: str
    post_id: str | None
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: float
    lease: float | None = None
    last_error: str | None = None
    status: JobStatus
    queue: str | None = None
    created_at: str
    updated_at: str


class AuditEntry(Row):
    """A row of `audit_log`: who did or tried what to which post."""

    id: int
    at: str
    actor: str
    action: str
    post_id: str | None
    outcome: str
    channel: str | None = None
    message_ts: str | None = None
    detail: str | None = None
