"""LinkedIn through the Posts API (`POST /rest/posts`), with a member or organization token.

`commentary` is LinkedIn's "little" text, not plain text: LinkedIn silently cuts a post at the
first reserved character that is not backslash-escaped and still answers 201, so every one is
escaped, and `#word` hashtags become hashtag templates so they stay clickable. LinkedIn sunsets
each monthly API version after about a year; an inactive `LINKEDIN_VERSION` is a permanent
error that names the setting, since no retry can fix it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import structlog

from services.errors import FailureReason, PermanentPublishError, PublishError
from services.platforms.base import (
    Checkpoints,
    PublishResult,
    error_for_status,
    network_error,
    retry_after_seconds,
)
from storage.models import Post

log = structlog.get_logger(__name__)

PLATFORM = "LinkedIn"
POST_STEP = "post"

LITTLE_TEXT_RESERVED = frozenset("\\|{}@[]()<>#*_~")
"""Characters the little text format reserves; plain text must backslash-escape each one."""

# A hashtag starts a word (not `C#`, not a URL's `/#anchor`) and is not all digits (`#1`).
_HASHTAG = re.compile(r"(?<![\w/])#(\w*[^\W\d]\w*)")


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in LITTLE_TEXT_RESERVED else ch for ch in text)


def little_text(text: str) -> str:
    """Plain text as LinkedIn little text: reserved characters escaped, hashtags kept."""
    parts: list[str] = []
    done = 0
    for match in _HASHTAG.finditer(text):
        parts.append(_escape(text[done : match.start()]))
        # The template's own delimiters are `|` and `}`, which a `\w` tag can't contain.
        parts.append("{hashtag|\\#|" + match.group(1) + "}")
        done = match.end()
    parts.append(_escape(text[done:]))
    return "".join(parts)


def post_url(urn: str) -> str:
    """The public link to a LinkedIn post."""
    return f"https://www.linkedin.com/feed/update/{urn}"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _error(status: int, reason: str, text: str, retry_after: str | None) -> PublishError:
    """The publish error a LinkedIn error answer means."""
    body = _json(text)
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    message = fields.get("message")
    # A gateway or proxy error page is HTML: say what it was, not what it says.
    detail = message.strip() if isinstance(message, str) and message.strip() else reason
    if status == 422 and "DUPLICATE_POST" in text:
        return PermanentPublishError(
            FailureReason.DUPLICATE,
            "LinkedIn refused it as a duplicate: this post may already be live on LinkedIn",
        )
    error = error_for_status(PLATFORM, status, detail, retry_after=retry_after_seconds(retry_after))
    code = str(fields.get("code") or "")
    if status == 426 or (status == 400 and "VERSION" in code):
        return PermanentPublishError(
            FailureReason.REFUSED,
            f"{error.detail}; set LINKEDIN_VERSION to an active version (a recent YYYYMM)",
        )
    return error


class LinkedInPublisher:
    """Posts text to LinkedIn; the post URN (`urn:li:share:...`) is the post's external id."""

    platform = "linkedin"
    dry_run = False

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api_url: str,
        access_token: str,
        author_urn: str,
        version: str,
        timeout: float = 30.0,
    ) -> None:
        self._posts_url = api_url.rstrip("/") + "/rest/posts"
        self._author = author_urn
        # The session is shared: LinkedIn's headers go on LinkedIn's requests only.
        self._session = session
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "LinkedIn-Version": version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def body(self, text: str) -> dict[str, Any]:
        """The `POST /rest/posts` body for a public text post."""
        return {
            "author": self._author,
            "commentary": little_text(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }

    async def create(self, text: str) -> str:
        """Create one post; returns its URN."""
        try:
            # `json=` sends `Content-Type: application/json`, which LinkedIn requires.
            async with self._session.post(
                self._posts_url, json=self.body(text), headers=self._headers, timeout=self._timeout
            ) as response:
                if 200 <= response.status < 300:
                    urn = response.headers.get("x-restli-id")
                    if not urn:
                        raise error_for_status(PLATFORM, 502, "an answer without a post id")
                    return urn
                raise _error(
                    response.status,
                    response.reason or "",
                    await response.text(errors="replace"),
                    response.headers.get("Retry-After"),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise network_error(PLATFORM, exc) from exc

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Publish the post's text as one public LinkedIn post.

        The URN is saved the moment LinkedIn answers, so a retry after a failure further on
        finishes the job instead of posting again.
        """
        urn = checkpoints.get(POST_STEP)
        if urn is None:
            urn = await self.create(post.message or "")
            await checkpoints.save(POST_STEP, urn)
            log.info("linkedin_posted", post_id=post.id, urn=urn)
        return PublishResult(external_id=urn, url=post_url(urn))


__all__ = ["LITTLE_TEXT_RESERVED", "LinkedInPublisher", "little_text", "post_url"]
