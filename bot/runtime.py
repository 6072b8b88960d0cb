"""The runtime: every long-lived object of the process, opened once and closed at shutdown.

    runtime = await Runtime.open(settings)   # database, HTTP session, clients, services
    await runtime.start()                     # recover interrupted work, start the worker
    ...
    await runtime.aclose()                    # everything closed, in reverse order

Each object that must be closed is pushed on one `AsyncExitStack` the moment it is opened, so
the order of closing is the order of opening reversed, stated once, by the code that opens
them: the worker (started last) stops first, while the services it uses still work; the
database (opened first) closes last. The stack runs every close even when one of them fails
(once all have run, the failure is raised, an earlier one as its context), and a failure
half-way through `open` closes what was already opened.

The process has ONE aiohttp session: the Slack clients and every publisher share its
connection pool; nothing else opens one.
"""

from __future__ import annotations

import gc
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Self

import aiohttp
import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import SecretRedactor
from bot.settings import Settings
from handlers.slack_notifier import SlackNotifier
from services.approval import ApprovalPolicy, ApprovalService
from services.container import Services
from services.delivery import CardJobs, NoticeJobs
from services.drafting import Drafter, DraftingService
from services.home import HomeService
from services.llm import LLMClient
from services.outbox import JobKind, Outbox
from services.platforms import PLATFORMS, Publisher, build_publishers, dry_run_platforms
from services.posts import PostService
from services.publishing import PublishJobs
from services.ratelimit import RateLimiter
from services.tasks import BackgroundTasks
from storage import Store, open_store

log = structlog.get_logger(__name__)

DONE_JOBS_KEPT_DAYS = 7


def http_session() -> aiohttp.ClientSession:
    """The process's one HTTP session. No cookie jar: every client on it authenticates with
    its own token, and a shared jar would hand one service's cookies to the next."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


class Runtime:
    """Owns the database, the HTTP session, the clients, the worker and the services."""

    store: Store
    session: aiohttp.ClientSession
    publishers: dict[str, Publisher]
    dry_run_platforms: set[str]
    tasks: BackgroundTasks
    web_client: AsyncWebClient
    outbox_client: AsyncWebClient
    outbox: Outbox
    llm: LLMClient
    drafting: DraftingService
    notifier: SlackNotifier
    home: HomeService
    services: Services

    def __init__(self, settings: Settings, stack: AsyncExitStack) -> None:
        self.settings = settings
        self._stack = stack

    @classmethod
    async def open(cls, settings: Settings) -> Self:
        """Open the database (creating or upgrading it) and build everything on top.

        Raises `StoreLocked` when another process has the SQLite file, `StorageUnavailable`
        when the PostgreSQL server can't be reached; whatever was opened before a failure is
        closed again.
        """
        stack = AsyncExitStack()
        try:
            runtime = cls(settings, stack)
            await runtime._open()
        except BaseException:
            await stack.aclose()
            raise
        return runtime

    async def _open(self) -> None:
        """Open and build everything, in dependency order; push each close on the stack."""
        settings = self.settings
        grace = settings.jobs.shutdown_grace

        self.store = await open_store(settings.storage.url, pool_size=settings.storage.pool_size)
        self._stack.push_async_callback(self.store.close)
        await self._sync_platforms()

        self.session = await self._stack.enter_async_context(http_session())
        platform_settings = settings.platforms
        dry_run_mode = settings.publishing.dry_run
        self.publishers = build_publishers(platform_settings, dry_run_mode, self.session)
        self.dry_run_platforms = dry_run_platforms(platform_settings, dry_run_mode)

        self.tasks = BackgroundTasks()
        self._stack.push_async_callback(self.tasks.aclose, grace=grace)

        token = settings.slack.bot_token.get_secret_value()
        api_url = settings.slack.api_url
        # Handlers' calls (views.open, ephemeral replies) may retry a dropped connection once.
        self.web_client = AsyncWebClient(token=token, base_url=api_url, session=self.session)
        # The retry table is the only retry layer for cards and notices.
        self.outbox_client = AsyncWebClient(
            token=token, base_url=api_url, session=self.session, retry_handlers=[]
        )
        # Failure reasons quote third parties: they are scrubbed of secrets when stored, and
        # again wherever Slack shows them (rows written before this scrub existed).
        scrub = SecretRedactor(settings.secret_values()).redact
        jobs = settings.jobs
        self.outbox = Outbox(
            self.store,
            max_attempts=jobs.retry_max_attempts,
            base_delay=jobs.retry_base_delay,
            max_delay=jobs.retry_max_delay,
            lease=jobs.job_lease,
            scrub=scrub,
        )
        self.llm = LLMClient(
            list(settings.llm.deployments),
            timeout=settings.llm.timeout,
            cooldown=settings.llm.cooldown,
        )
        self.drafting = DraftingService(
            self.store,
            Drafter(self.llm, brand_voice=settings.llm.brand_voice),
            self.outbox,
            self.tasks,
        )
        self.notifier = SlackNotifier(
            self.outbox_client,
            approval_channel=settings.approval.channel,
            dry_run_platforms=self.dry_run_platforms,
            scrub=scrub,
        )
        policy = ApprovalPolicy(
            approvers=frozenset(settings.approval.approvers),
            allow_self_approval=settings.approval.allow_self_approval,
        )
        self.outbox.register(JobKind.NOTIFY_USER, NoticeJobs(self.store, self.notifier))
        self.outbox.register(
            JobKind.PUBLISH,
            PublishJobs(
                self.store,
                self.outbox,
                self.publishers,
                cooldown=settings.publishing.platform_cooldown,
            ),
        )
        limits = settings.limits
        limiter = RateLimiter(
            user_capacity=limits.rate_limit.capacity,
            user_per_seconds=limits.rate_limit.per_seconds,
            workspace_capacity=limits.workspace_rate_limit.capacity,
            workspace_per_seconds=limits.workspace_rate_limit.per_seconds,
        )
        posts = PostService(
            self.store,
            self.outbox,
            self.drafting,
            limiter,
            offered_platforms=self.publishers,
            dry_run_platforms=self.dry_run_platforms,
            scrub=scrub,
        )
        self.home = HomeService(self.store, posts, self.notifier, policy, scrub=scrub)
        self._stack.push_async_callback(self.home.aclose)
        self.outbox.register(
            JobKind.SYNC_CARD,
            CardJobs(self.store, self.outbox, self.notifier, on_change=self.home.changed),
        )
        self.services = Services(
            posts=posts,
            approval=ApprovalService(self.store, self.outbox, policy, self.drafting, limiter),
            home=self.home,
        )

    async def _sync_platforms(self) -> None:
        """The platform registry is the truth for `social_platforms`: a new platform gets its
        row here, so it needs no seed migration."""
        async with self.store.transaction() as tx:
            for spec in PLATFORMS.values():
                await tx.posts.upsert_platform(spec.slug, spec.name, spec.limit)

    async def start(self) -> None:
        """Recover what an earlier process left unfinished, then start the worker (stopped
        first at shutdown: running jobs get SOCIALPOST_SHUTDOWN_GRACE seconds to finish)."""
        orphans = await self.drafting.fail_orphans()
        if orphans:
            log.warning("interrupted_drafts_failed", count=orphans)
        week_ago = datetime.now(UTC) - timedelta(days=DONE_JOBS_KEPT_DAYS)
        async with self.store.transaction() as tx:
            await tx.jobs.prune_done(week_ago)
        self._stack.push_async_callback(self.outbox.stop, grace=self.settings.jobs.shutdown_grace)
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
        """Close everything in the reverse order of opening: the worker lets running jobs
        finish (up to SOCIALPOST_SHUTDOWN_GRACE seconds) and stops, then App Home's refresh,
        the drafts, the HTTP session and the database."""
        await self._stack.aclose()
