"""The runtime: every long-lived object, built once at start-up and closed at shutdown.

runtime = await Runtime.open(settings)   # database, HTTP sessions, clients, services
await runtime.start()                     # recover interrupted work, start the worker
...
await runtime.aclose()                    # stop the worker, cancel drafts, close it all
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from typing import Self

import aiohttp
import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import SecretRedactor
from bot.settings import DryRun, Settings
from handlers.slack_notifier import SlackNotifier
from services.approval import ApprovalPolicy, ApprovalService
from services.container import Services
from services.delivery import CardJobs, NoticeJobs
from services.drafting import Drafter, DraftingService
from services.home import HomeService
from services.llm import LLMClient
from services.outbox import JobKind, Outbox
from services.platforms import PLATFORMS
from services.posts import PostService
from services.publishers import Publisher
from services.publishers.dry_run import DryRunPublisher
from services.publishers.instagram import InstagramPublisher
from services.publishers.linkedin import LinkedInPublisher
from services.publishers.x import XPublisher
from services.publishing import PublishJobs
from services.ratelimit import RateLimiter
from services.tasks import BackgroundTasks
from storage import Store, open_store, sqlite_url

log = structlog.get_logger(__name__)

DONE_JOBS_KEPT_DAYS = 7


def secret(value: object) -> str:
    """The plain value of a SecretStr setting ('' when unset)."""
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter is not None else ""


def dry_run_platforms(settings: Settings) -> set[str]:
    """Platforms whose publisher only pretends (SOCIALPOST_DRY_RUN)."""
    if settings.dry_run == DryRun.TRUE:
        return set(PLATFORMS)
    if settings.dry_run == DryRun.AUTO:
        return set(PLATFORMS) - settings.configured_platforms
    return set()


def offered_platforms(settings: Settings) -> set[str]:
    """Platforms the modal offers: without credentials only when they are dry-run."""
    if settings.dry_run == DryRun.FALSE:
        return set(settings.configured_platforms)
    return set(PLATFORMS)


def build_publishers(settings: Settings) -> dict[str, Publisher]:
    """One publisher per offered platform: the real one, or the dry-run stand-in."""
    dry = dry_run_platforms(settings)
    publishers: dict[str, Publisher] = {}
    for platform in offered_platforms(settings):
        if platform in dry:
            publishers[platform] = DryRunPublisher(platform)
        elif platform == "x":
            publishers[platform] = XPublisher(
                api_url=settings.x_api_url,
                consumer_key=secret(settings.x_api_key),
                consumer_secret=secret(settings.x_api_secret),
                access_token=secret(settings.x_access_token),
                access_token_secret=secret(settings.x_access_token_secret),
            )
        elif platform == "linkedin":
            assert settings.linkedin_author_urn is not None
            publishers[platform] = LinkedInPublisher(
                api_url=settings.linkedin_api_url,
                access_token=secret(settings.linkedin_access_token),
                author_urn=settings.linkedin_author_urn,
                version=settings.linkedin_version,
            )
        elif platform == "instagram":
            assert settings.instagram_user_id is not None
            publishers[platform] = InstagramPublisher(
                api_url=settings.instagram_api_url,
                access_token=secret(settings.instagram_access_token),
                user_id=settings.instagram_user_id,
            )
    return publishers


class Runtime:
    """Owns the database, the HTTP sessions, the clients, the worker and the services."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        session: aiohttp.ClientSession,
        publishers: dict[str, Publisher],
    ) -> None:
        self.settings = settings
        self.store = store
        self.session = session
        self.publishers = publishers
        self.tasks = BackgroundTasks()
        token = secret(settings.slack_bot_token)
        # Handlers' calls (views.open, ephemeral replies) may retry a dropped connection once.
        self.web_client = AsyncWebClient(
            token=token, base_url=settings.slack_api_url, session=session
        )
        # The retry table is the only retry layer for cards and notices.
        self.outbox_client = AsyncWebClient(
            token=token, base_url=settings.slack_api_url, session=session, retry_handlers=[]
        )
        # Failure reasons quote third parties: they are scrubbed of secrets when stored, and
        # again wherever Slack shows them (rows written before this scrub existed).
        scrub = SecretRedactor(settings.secret_values()).redact
        self.outbox = Outbox(
            store,
            max_attempts=settings.retry_max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            lease=settings.job_lease,
            scrub=scrub,
        )
        self.llm = LLMClient(
            settings.llm_deployments, timeout=settings.llm_timeout, cooldown=settings.llm_cooldown
        )
        self.drafting = DraftingService(
            store, Drafter(self.llm, brand_voice=settings.brand_voice), self.outbox, self.tasks
        )
        dry_run = dry_run_platforms(settings)
        self.notifier = SlackNotifier(
            self.outbox_client,
            approval_channel=settings.approval_channel,
            dry_run_platforms=dry_run,
            scrub=scrub,
        )
        policy = ApprovalPolicy(
            approvers=frozenset(settings.approvers),
            allow_self_approval=settings.allow_self_approval,
        )

        self.outbox.register(JobKind.NOTIFY_USER, NoticeJobs(store, self.notifier))
        self.outbox.register(
            JobKind.PUBLISH,
            PublishJobs(store, self.outbox, publishers, cooldown=settings.platform_cooldown),
        )
        limiter = RateLimiter(
            user_capacity=settings.rate_limit.capacity,
            user_per_seconds=settings.rate_limit.per_seconds,
            workspace_capacity=settings.workspace_rate_limit.capacity,
            workspace_per_seconds=settings.workspace_rate_limit.per_seconds,
        )
        posts = PostService(
            store,
            self.outbox,
            self.drafting,
            limiter,
            offered_platforms=publishers,
            dry_run_platforms=dry_run,
            scrub=scrub,
        )
        self.home = HomeService(store, posts, self.notifier, policy, scrub=scrub)
        self.outbox.register(
            JobKind.SYNC_CARD,
            CardJobs(store, self.outbox, self.notifier, on_change=self.home.changed),
        )
        self.services = Services(
            posts=posts,
            approval=ApprovalService(store, self.outbox, policy, self.drafting, limiter),
            home=self.home,
        )

    @classmethod
    async def open(cls, settings: Settings) -> Self:
        """Open the database (creating or upgrading it) and build everything on top.

        Raises `StoreLocked` when another process has the database.
        """
        store = await open_store(sqlite_url(settings.db_path))
        try:
            # The platform registry is the truth: a new platform needs no seed migration.
            async with store.transaction() as tx:
                for rules in PLATFORMS.values():
                    await tx.posts.upsert_platform(rules.slug, rules.name, rules.limit)
            publishers = build_publishers(settings)
        except BaseException:
            await store.close()
            raise
        session = aiohttp.ClientSession()
        return cls(settings, store, session, publishers)

    async def start(self) -> None:
        """Recover what an earlier process left unfinished, then start the worker."""
        orphans = await self.drafting.fail_orphans()
        if orphans:
            log.warning("interrupted_drafts_failed", count=orphans)
        week_ago = datetime.now(UTC) - timedelta(days=DONE_JOBS_KEPT_DAYS)
        async with self.store.transaction() as tx:
            await tx.jobs.prune_done(week_ago)
        await self.outbox.start()
        self.tasks.spawn(self._warm_up(), name="warm-up")

    async def _warm_up(self) -> None:
        """Load lazy imports now, then take the start-up heap out of the garbage collector's
        sight: litellm's objects are many and permanent, and scanning them on every full
        collection shows up as latency spikes."""
        await self.llm.warm_up()
        gc.collect()
        gc.freeze()

    async def aclose(self) -> None:
        """Let running jobs and drafts finish (up to SOCIALPOST_SHUTDOWN_GRACE seconds), stop
        the worker, then close clients and the database."""
        grace = self.settings.shutdown_grace
        await self.outbox.stop(grace=grace)
        await self.home.aclose()
        await self.tasks.aclose(grace=grace)
        for publisher in self.publishers.values():
            await publisher.aclose()
        await self.session.close()
        await self.store.close()
