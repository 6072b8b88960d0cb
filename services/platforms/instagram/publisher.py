"""Instagram through the Graph API's content publishing: container, wait, publish, permalink.

Publishing takes several requests, and a crash or a failure between them must neither lose the
post nor publish it twice. Each platform id is checkpointed the moment Meta answers: a retry
reuses the saved container (making a new one only if the old one expired or failed), and once
the media id is saved the post is live, so nothing after that can fail the publish. A container
that reports `PUBLISHED` with no media saved means an earlier run published it and died before
recording it; the media is then found among the account's recent posts by its caption.

The access token travels in query strings and form bodies (as Meta documents), so it is
scrubbed from every message this module builds, and aiohttp's errors (whose text can hold the
URL) are not chained onto ours.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import structlog
from tenacity import AsyncRetrying, RetryError, retry_if_result, stop_after_delay, wait_fixed

from services.errors import (
    FailureReason,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from services.platforms.base import (
    Checkpoints,
    PublishResult,
    error_for_status,
    network_error,
    retry_after_seconds,
)
from storage.models import Post

log = structlog.get_logger(__name__)

PLATFORM = "Instagram"

# Graph API error codes: 102/190 a bad or expired token; 4/17/32/613 the API's rate limits.
CREDENTIAL_CODES = frozenset({102, 190})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})

# Container states that can never become publishable: make a new container instead.
DEAD_STATES = frozenset({"ERROR", "EXPIRED"})


class InstagramPublisher:
    """Posts an image with the post's text as its caption; the media id is the external id."""

    platform = "instagram"
    dry_run = False

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api_url: str,
        access_token: str,
        user_id: str,
        timeout: float = 30.0,
        poll_interval: float = 1.0,
        poll_timeout: float = 60.0,
    ) -> None:
        self._api = api_url.rstrip("/")
        self._token = access_token
        self._user = user_id
        self._poll_interval = poll_interval
        self._poll_timeout = poll_timeout
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def _scrub(self, text: str) -> str:
        """`text` with the access token blotted out."""
        return text.replace(self._token, "[token]") if self._token else text

    def _error(self, status: int, reason: str, body: Any, retry_after: str | None) -> PublishError:
        """The publish error a Graph API error answer means."""
        wait = retry_after_seconds(retry_after)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            # A proxy's error page, not Meta's JSON: the status is all there is.
            return error_for_status(PLATFORM, status, reason, retry_after=wait)
        message = self._scrub(str(error.get("message") or reason))
        user_message = error.get("error_user_msg")
        if isinstance(user_message, str) and user_message and user_message not in message:
            message = f"{message} ({self._scrub(user_message)})"
        code = error.get("code")
        codes = ", ".join(
            f"{name} {error[key]}"
            for name, key in (("code", "code"), ("subcode", "error_subcode"))
            if error.get(key) is not None
        )
        if codes:
            message = f"{message} [{codes}]"
        base = error_for_status(PLATFORM, status, message, retry_after=wait)
        if code in CREDENTIAL_CODES:
            return PermanentPublishError(FailureReason.CREDENTIALS, base.detail)
        if code in RATE_LIMIT_CODES:
            return TransientPublishError(FailureReason.RATE_LIMIT, base.detail, wait)
        if error.get("is_transient") is True and not isinstance(base, TransientPublishError):
            return TransientPublishError(FailureReason.PLATFORM_DOWN, base.detail, wait)
        return base

    async def _call(self, method: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One Graph API request; its JSON object, or the publish error its answer means."""
        url = f"{self._api}/{path}"
        fields = {**params, "access_token": self._token}
        try:
            request = (
                self._session.get(url, params=fields, timeout=self._timeout)
                if method == "GET"
                else self._session.post(url, data=fields, timeout=self._timeout)
            )
            async with request as response:
                status, reason = response.status, response.reason or ""
                retry_after = response.headers.get("Retry-After")
                text = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Not chained: aiohttp's error text can include the URL, token and all.
            raise network_error(PLATFORM, exc) from None
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = None
        if not 200 <= status < 300:
            raise self._error(status, reason, body, retry_after)
        if not isinstance(body, dict):
            raise error_for_status(PLATFORM, 502, "an answer that is not a JSON object")
        return body

    async def _create_container(self, post: Post, image_url: str) -> str:
        """Step 1: a media container for the image and caption; its id."""
        body = await self._call(
            "POST",
            f"{self._user}/media",
            {"image_url": image_url, "caption": post.message or ""},
        )
        if not body.get("id"):
            raise error_for_status(PLATFORM, 502, "an answer without a container id")
        container_id = str(body["id"])
        log.info("instagram_container_created", post_id=post.id, container_id=container_id)
        return container_id

    async def _status(self, container_id: str) -> str:
        """The container's `status_code` (IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED)."""
        body = await self._call("GET", container_id, {"fields": "status_code"})
        return str(body.get("status_code") or "")

    async def _wait_until_ready(self, container_id: str) -> str:
        """Poll the container until Meta is done with it; its final status code."""
        polling = AsyncRetrying(
            stop=stop_after_delay(self._poll_timeout),
            wait=wait_fixed(self._poll_interval),
            retry=retry_if_result(lambda status: status == "IN_PROGRESS"),
        )
        try:
            return await polling(self._status, container_id)
        except RetryError:
            raise TransientPublishError(
                FailureReason.PLATFORM_DOWN,
                f"{PLATFORM} was still processing the image after {self._poll_timeout:g}s",
            ) from None

    async def _find_published(self, post: Post) -> tuple[str, str | None]:
        """The media an earlier run published from this post's container, and its permalink."""
        body = await self._call("GET", f"{self._user}/media", {"fields": "id,caption,permalink"})
        caption = (post.message or "").strip()
        items = body.get("data")
        # Meta lists the newest first; the lost publish is among the latest posts.
        for item in items if isinstance(items, list) else []:
            if (
                isinstance(item, dict)
                and item.get("id")
                and str(item.get("caption") or "").strip() == caption
            ):
                permalink = item.get("permalink")
                return str(item["id"]), permalink if isinstance(permalink, str) else None
        raise PermanentPublishError(
            FailureReason.DUPLICATE,
            "Instagram says this post was already published, but it is not among the account's "
            "recent posts: check Instagram before trying again",
        )

    async def _publish_media(
        self, post: Post, image_url: str, checkpoints: Checkpoints
    ) -> tuple[str, str | None]:
        """Container, wait, publish (each step at most once); the media id and permalink."""
        container_id = checkpoints.get("container")
        status = await self._wait_until_ready(container_id) if container_id else ""
        if container_id and status in DEAD_STATES:
            log.info("instagram_container_replaced", post_id=post.id, status=status)
            container_id = None
        if not container_id:
            container_id = await self._create_container(post, image_url)
            await checkpoints.save("container", container_id)
            status = await self._wait_until_ready(container_id)
        if status == "PUBLISHED":
            media_id, permalink = await self._find_published(post)
            await checkpoints.save("media", media_id)
            log.info("instagram_publish_recovered", post_id=post.id, media_id=media_id)
            return media_id, permalink
        if status in DEAD_STATES:
            raise PermanentPublishError(
                FailureReason.REFUSED,
                f"{PLATFORM} could not use the image (container {status}): check that the image "
                "URL is a public JPEG link",
            )
        if status != "FINISHED":
            raise error_for_status(PLATFORM, 502, f"an unknown container status {status!r}")
        body = await self._call(
            "POST", f"{self._user}/media_publish", {"creation_id": container_id}
        )
        if not body.get("id"):
            raise error_for_status(PLATFORM, 502, "an answer without a media id")
        media_id = str(body["id"])
        await checkpoints.save("media", media_id)
        log.info("instagram_published", post_id=post.id, media_id=media_id)
        return media_id, None

    async def _permalink(self, post: Post, media_id: str) -> str | None:
        """The post's link, or None: it is live either way, so a failure here is not fatal."""
        try:
            body = await self._call("GET", media_id, {"fields": "permalink"})
        except PublishError as exc:
            log.warning("instagram_permalink_failed", post_id=post.id, error=str(exc))
            return None
        permalink = body.get("permalink")
        return permalink if isinstance(permalink, str) and permalink else None

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Publish the post's image with its text as the caption."""
        if not post.image_url:
            raise PermanentPublishError(FailureReason.REFUSED, "Instagram posts need an image URL")
        media_id = checkpoints.get("media")
        permalink: str | None = None
        if media_id is None:
            media_id, permalink = await self._publish_media(post, post.image_url, checkpoints)
        if permalink is None:
            permalink = await self._permalink(post, media_id)
        return PublishResult(external_id=media_id, url=permalink)


__all__ = ["InstagramPublisher"]
