"""Publishers: one per platform behind one interface, plus a dry-run stand-in.

Each publisher honours its `*_API_URL` setting, maps the platform's failures onto
`TransientPublishError` / `PermanentPublishError` with a reason a Slack user understands, and
never retries by itself: the retry table is the only retry layer for publishing.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.errors import (
    FailureReason,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from storage.models import Post


class PublishResult(BaseModel):
    """What the platform answered: its id for the post and a link to it."""

    model_config = ConfigDict(frozen=True)

    external_id: str
    url: str | None = None
    dry_run: bool = False


class Checkpoints(Protocol):
    """Steps of one post's publishing already done, kept across retries and restarts.

    A publisher that needs several requests (thread parts, an Instagram container) saves each
    platform id the moment the platform answers, and on a retry skips what is done.
    """

    def get(self, step: str) -> str | None:
        """The platform's id for a finished step, or None."""

    async def save(self, step: str, external_id: str) -> None:
        """Record a finished step (committed before this returns)."""


class Publisher(Protocol):
    """Publishes approved posts to one platform."""

    platform: str
    dry_run: bool

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Publish the post's text; raise a `PublishError` when the platform doesn't take it."""

    async def aclose(self) -> None:
        """Release network resources."""


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_for_status(
    platform: str, status: int, detail: str, *, retry_after: float | None = None
) -> PublishError:
    """The publish error an HTTP status means, the same way for every platform."""
    detail = f"{platform} answered {status}: {detail}".strip().rstrip(":")
    if status == 429:
        return TransientPublishError(FailureReason.RATE_LIMIT, detail, retry_after)
    if status == 401:
        return PermanentPublishError(FailureReason.CREDENTIALS, detail)
    if status >= 500 or status == 408:
        return TransientPublishError(FailureReason.PLATFORM_DOWN, detail, retry_after)
    return PermanentPublishError(FailureReason.REFUSED, detail)


def network_error(platform: str, exc: BaseException) -> TransientPublishError:
    """A request that got no answer (refused connection, reset, timeout)."""
    what = "timed out" if isinstance(exc, TimeoutError) else f"unreachable ({type(exc).__name__})"
    return TransientPublishError(FailureReason.PLATFORM_DOWN, f"{platform} {what}")
