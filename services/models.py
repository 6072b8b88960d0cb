"""Plain values the services take and return (never Slack payloads).

The stored rows (`Post`, `Job`, ...) are defined with the schema in `storage.models` and
re-exported here so the Slack layer depends on `services` only.
"""

from __future__ import annotations

from decimal import Decimal
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
    "AuditEntry",
    "Completion",
    "Deployment",
    "Draft",
    "Job",
    "JobStatus",
    "Platform",
    "Post",
    "PostStatus",
    "PostVersion",
    "Spend",
]


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
