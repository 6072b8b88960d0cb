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
from datetime import timedelta
from typing import Self

import aiohttp
import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import SecretRedactor
from bot.settings import Settings
from handlers.slack_out import AppHome, SlackDelivery, SlackOut
from services.cards import Cards
from services.clock import Clock, SystemClock
from services.container import Services
from services.decisions import Decisions
from services.drafting.drafter import Drafter
from services.drafting.job import Drafting
from services.drafting.llm import LLMClient
from services.editing import Editing
from services.events import EventBus
from services.intake import Intake
from services.jobs import JobQueue, RetryPolicy, Worker
from services.lifecycle import Lifecycle
from services.overview import Overview
from services.platforms import PLATFORMS, Publisher, build_publishers, dry_run_platforms
from services.platforms.publish import Publishing
from services.policy import Policy
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
    jobs_client: AsyncWebClient
    clock: Clock
    queue: JobQueue
    events: EventBus
    worker: Worker
    lifecycle: Lifecycle
    llm: LLMClient
    drafting: Drafting
    slack_out: SlackOut
    home: AppHome
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
        self.jobs_client = AsyncWebClient(
            token=token, base_url=api_url, session=self.session, retry_handlers=[]
        )
        # Failure reasons quote third parties: they are scrubbed of secrets when stored, and
        # again wherever Slack shows them (rows written before this scrub existed).
        scrub = SecretRedactor(settings.secret_values()).redact
        jobs = settings.jobs
        self.clock = SystemClock()
        self.queue = JobQueue(self.store, clock=self.clock)
        self.events = EventBus()
        self.worker = Worker(
            self.store,
            self.queue,
            retry=RetryPolicy(
                max_attempts=jobs.retry_max_attempts,
                base_delay=jobs.retry_base_delay,
                max_delay=jobs.retry_max_delay,
            ),
            lease=jobs.job_lease,
            clock=self.clock,
            scrub=scrub,
        )
        policy = Policy.of(
            settings.approval.approvers, allow_self_approval=settings.approval.allow_self_approval
        )
        self.lifecycle = Lifecycle(self.store, self.queue, self.events, policy, clock=self.clock)

        self.llm = LLMClient(
            list(settings.llm.deployments),
            timeout=settings.llm.timeout,
            cooldown=settings.llm.cooldown,
        )
        self.drafting = Drafting(
            self.store,
            self.lifecycle,
            self.events,
            self.queue,
            Drafter(self.llm, brand_voice=settings.llm.brand_voice),
        )
        self.worker.register(self.drafting.job_type())
        publishing = Publishing(
            self.store,
            self.lifecycle,
            self.publishers,
            cooldown=settings.publishing.platform_cooldown,
        )
        self.worker.register(publishing.job_type())

        overview = Overview(self.store, policy, self.worker.types, scrub=scrub)
        slack = SlackDelivery(
            self.jobs_client,
            approval_channel=settings.approval.channel,
            dry_run_platforms=self.dry_run_platforms,
            scrub=scrub,
        )
        self.home = AppHome(self.store, overview, slack)
        self._stack.push_async_callback(self.home.aclose)
        self.slack_out = SlackOut(
            slack, Cards(self.store, self.lifecycle, self.events), self.home, clock=self.clock
        )
        self.slack_out.attach(self.events, self.queue, self.worker)

        limits = settings.limits
        limiter = RateLimiter(
            user_capacity=limits.rate_limit.capacity,
            user_per_seconds=limits.rate_limit.per_seconds,
            workspace_capacity=limits.workspace_rate_limit.capacity,
            workspace_per_seconds=limits.workspace_rate_limit.per_seconds,
        )
        editing = Editing(self.lifecycle, self.drafting, limiter)
        self.services = Services(
            intake=Intake(
                self.store,
                self.lifecycle,
                self.drafting,
                limiter,
                offered_platforms=self.publishers,
                dry_run_platforms=self.dry_run_platforms,
            ),
            decisions=Decisions(self.store, self.lifecycle, self.queue, editing),
            editing=editing,
            overview=overview,
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
        week_ago = self.clock.now() - timedelta(days=DONE_JOBS_KEPT_DAYS)
        async with self.store.transaction() as tx:
            await tx.jobs.prune_done(week_ago)
        # A draft an earlier process was writing has its job (the worker runs it again); a
        # post left generating without one (by a version that drafted in memory) gets one.
        orphans = await self.drafting.resume_orphans()
        if orphans:
            log.warning("interrupted_drafts_resumed", count=orphans)
        self._stack.push_async_callback(self.worker.stop, grace=self.settings.jobs.shutdown_grace)
        await self.worker.start()
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
        the background tasks, the HTTP session and the database."""
        await self._stack.aclose()
