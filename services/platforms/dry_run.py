"""The dry-run publisher: logs what it would publish and calls no platform.

It stands in for any platform (SOCIALPOST_DRY_RUN, or a platform without credentials in
`auto`), so it belongs to none of the platform folders.
"""

from __future__ import annotations

import uuid

import structlog

from services.platforms.base import Checkpoints, PublishResult
from storage.models import Post

log = structlog.get_logger(__name__)


class DryRunPublisher:
    """Stands in for a platform that must not (or can't) be called."""

    dry_run = True

    def __init__(self, platform: str) -> None:
        self.platform = platform

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Pretend to publish; the id says it is a dry run."""
        log.info("dry_run_publish", platform=self.platform, post_id=post.id, text=post.message)
        return PublishResult(external_id=f"dry-run-{uuid.uuid4().hex[:12]}", dry_run=True)
