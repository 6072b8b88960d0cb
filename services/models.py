"""Plain values the services take and return (never Slack payloads).

The stored rows (`Post`, `Job`, ...) are defined with the schema in `storage.models` and
re-exported here so the Slack layer depends on `services` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storage.models import (
    AuditEntry,
    Job,
    JobStatus,
    Platform,
    Post,
    PostStatus,
    PostVersion,
    Spend,
)

__all__ = [
    "Actor",
    "AuditEntry",
    "CardRef",
    "Completion",
    "Deployment",
    "Draft",
    "Job",
    "JobStatus",
    "Outcome",
    "Platform",
    "Post",
    "PostStatus",
    "PostVersion",
    "Spend",
    "Verdict",
]


class CardRef(BaseModel):
    """Where a post's card is: a place and the card's id there. Opaque to the domain (the
    layer that shows cards chose both); the domain only stores them and compares them."""

    model_config = ConfigDict(frozen=True)

    place: str
    id: str


class Actor(BaseModel):
    """Someone asking for a change to a post: who, from which card (None: from a private
    place such as App Home or a direct message), having seen which version of the post
    (None: the place didn't say)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    card: CardRef | None = None
    seen_version: int | None = None


class Verdict(StrEnum):
    """How a request to change a post ended."""

    DONE = "done"
    NOT_FOUND = "not_found"
    WRONG_CARD = "wrong_card"
    NOT_APPROVER = "not_approver"
    NOT_EDITOR = "not_editor"
    OWN_POST = "own_post"
    STALE_VERSION = "stale_version"
    ALREADY_APPROVED = "already_approved"
    APPROVED_BY_YOU = "approved_by_you"  # this person's approval of this version stands
    ALREADY_REJECTED = "already_rejected"
    NOT_READY = "not_ready"
    NOT_EDITABLE = "not_editable"
    NOT_FAILED = "not_failed"
    DISCARDED = "discarded"
    OVER_LIMIT = "over_limit"
    POLICY = "policy"
    """The draft breaks the content policy (SPEC section 7.4); the detail says how."""
    ALREADY_SCHEDULED = "already_scheduled"
    EXPIRED = "expired"
    NOT_SCHEDULED = "not_scheduled"
    ALREADY_PUBLISHING = "already_publishing"
    NOT_RETRYING = "not_retrying"
    NOT_EXPIRED = "not_expired"


@dataclass(frozen=True)
class Outcome:
    """The verdict, the post as it is now, and a detail for the user (e.g. a measurement)."""

    verdict: Verdict
    post: Post | None = None
    detail: str | None = None

    @property
    def done(self) -> bool:
        """Whether the change happened."""
        return self.verdict == Verdict.DONE


class Deployment(BaseModel):
    """One LLM provider to try: a litellm model and the parameters to call it with."""

    model_config = ConfigDict(frozen=True)

    name: str
    model: str
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def provider(self) -> str:
        """The litellm provider prefix (`openai`, `anthropic`, ...)."""
        custom = self.params.get("custom_llm_provider")
        if isinstance(custom, str) and custom:
            return custom
        prefix, sep, _ = self.model.partition("/")
        return prefix if sep else "openai"


class Completion(BaseModel):
    """What an LLM answered, and who answered it."""

    model_config = ConfigDict(frozen=True)

    text: str
    provider: str
    model: str
    deployment: str
    configured_model: str
    fallback_used: bool
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: Decimal | None = None
    """USD, by litellm's cost calculation; None when it couldn't compute it."""


class Draft(BaseModel):
    """A draft ready for a human: the text and how it was made."""

    model_config = ConfigDict(frozen=True)

    text: str
    platform: str
    length: int
    limit: int
    within_limit: bool
    provider: str
    model: str
    configured_model: str
    fallback_used: bool
    prompt: str
    raw_output: str
    reprompts: int
    calls: tuple[Completion, ...] = ()
    """Every LLM answer the draft took (re-prompts included), for the cost log."""
    findings: tuple[str, ...] = ()
    """What the checks still find in the text (empty: it may be published)."""
