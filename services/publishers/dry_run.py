"""The dry-run publisher: logs what it would publish and calls no platform."""

from __future__ import annotations

import uuid

import structlog

from services.publishers import Checkpoints, PublishResult
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

    async def aclose(self) -> None:
        """Nothing to release."""
