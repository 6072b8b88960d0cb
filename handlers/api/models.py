"""The API's request and response bodies (SPEC section 7.3); the OpenAPI document is made
from these models, so what is documented is what is parsed and sent.

The request model checks shapes and types only. The rules for a request (a brief of 1..2000
characters, a platform that is offered, a tone from the list, an image for Instagram) are the
modal's own, in `services.intake.check_request`: the API refuses what the modal refuses, in
the same words.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.webhooks.view import PostView

__all__ = ["ApiError", "ErrorCode", "GenerateRequest", "Generated", "Health", "PostRef", "PostView"]

REQUESTED_BY_MAX = 100
"""Characters of the free-text `requested_by` shown on the card."""


class ErrorCode(StrEnum):
    """The `error` of an error body: what went wrong, for programs."""

    INVALID_JSON = "invalid_json"
    UNAUTHORIZED = "unauthorized"
    BUDGET_EXHAUSTED = "budget_exhausted"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_REQUEST = "invalid_request"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


class ApiError(BaseModel):
    """Every refusal: a code, plain words, and for a validation error the message per field."""

    error: ErrorCode
    message: str
    fields: dict[str, str] | None = Field(
        None, description="For invalid_request: what is wrong with each field, by field name."
    )


class GenerateRequest(BaseModel):
    """`POST /posts/generate`: what to draft, for which platforms."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"query": "Announce our spring release: faster drafts", "social_platform": "x"}
            ]
        },
    )

    query: str = Field(
        description="The brief: what the post should say (1..2000 characters once trimmed)."
    )
    social_platform: str | None = Field(
        None, description="One platform: x, linkedin or instagram (those configured)."
    )
    social_platforms: list[str] | None = Field(
        None, description="Several platforms at once: one draft and one card per platform."
    )
    tone: str | None = Field(
        None,
        description="friendly, professional, playful, informative, enthusiastic or bold.",
    )
    image_url: str | None = Field(
        None, description="A full http(s) address of an image; required for Instagram."
    )
    post_at: AwareDatetime | None = Field(
        None, description="When to publish once approved: ISO 8601 with a UTC offset."
    )
    requested_by: str | None = Field(
        None,
        max_length=REQUESTED_BY_MAX,
        description="Free text shown on the card beside the API key's name (who asked).",
    )

    def platforms(self) -> tuple[str, ...]:
        """`social_platform` then `social_platforms`, each once, in that order."""
        given = ([self.social_platform] if self.social_platform else []) + list(
            self.social_platforms or []
        )
        return tuple(dict.fromkeys(given))


class PostRef(BaseModel):
    """One post a request created."""

    id: str
    platform: str
    status: str


class Generated(BaseModel):
    """The answer to `POST /posts/generate` (202 when new, 200 for a replayed
    Idempotency-Key): one post per platform."""

    posts: list[PostRef]


class Health(BaseModel):
    """`GET /healthz`: whether this process can reach its database."""

    ok: bool
    database: str
