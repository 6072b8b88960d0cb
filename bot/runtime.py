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
from handlers.api.auth import ApiKeys
from handlers.api.routes import ApiHandlers
from handlers.api.service import DomainPosts
from handlers.api.throttle import AddressLimiter
from handlers.approver_groups import ApproverGroups
from handlers.slack_out import AppHome, SlackDelivery, SlackOut
from services.api_intake import ApiIntake
from services.cards import Cards
from services.clock import Clock, SystemClock
from services.container import Services
from services.decisions import Decisions
from services.drafting.budget import BudgetGuard, MonthlyBudget
from services.drafting.drafter import Drafter
from services.drafting.job import Drafting
from services.drafting.llm import LLMClient
from services.editing import Editing
from services.events import EventBus
from services.ideas.runs import IdeaRuns, IdeasPlan
from services.intake import Intake
from services.jobs import JobQueue, RetryPolicy, Worker
from services.lifecycle import Lifecycle
from services.metrics import Metrics
from services.overview import Overview
from services.platforms import PLATFORMS, Publisher, build_publishers, dry_run_platforms
from services.platforms.publish import Publishing
from services.policy import Policy
from services.ratelimit import RateLimiter
from services.scheduling.deadlines import Deadlines
from services.scheduling.decisions import Scheduling
from services.tasks import BackgroundTasks
from services.webhooks.delivery import Webhooks
from storage import Store, open_store
from storage.models import JobStatus

log = structlog.get_logger(__name__)

DONE_JOBS_KEPT_DAYS = 7
GROUPS_FIRST_ANSWER = 10.0
"""Seconds start-up waits for Slack to list the approver groups' members."""


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
    approver_groups: ApproverGroups
    clock: Clock
    queue: JobQueue
    events: EventBus
    worker: Worker
    lifecycle: Lifecycle
    llm: LLMClient
    drafting: Drafting
    slack_out: SlackOut
    ideas: IdeaRuns
    home: AppHome
    services: Services
    metrics: Metrics
    api: ApiHandlers

    def __init__(self, settings: Settings, stack: AsyncExitStack, clock: Clock) -> None:
        self.settings = settings
        self._stack = stack
        self.clock = clock

    @classmethod
    async def open(cls, settings: Settings, *, clock: Clock | None = None) -> Self:
        """Open the database (creating or upgrading it) and build everything on top, going
        by `clock` (default: the machine's; tests pass one they move on).

        Raises `StoreLocked` when another process has the SQLite file, `StorageUnavailable`
        when the PostgreSQL server can't be reached; whatever was opened before a failure is
        closed again.
        """
        stack = AsyncExitStack()
        try:
            runtime = cls(settings, stack, clock or SystemClock())
            await runtime._open()
        except BaseException:
            await stack.aclose()
            raise
        return runtime

    async def _open(self) -> None:
        """Open and build everything, in dependency order; push each close on the stack."""
        settings = self.settings
        grace = settings.jobs.shutdown_grace

        self.store = await open_store(
            settings.storage.url, clock=self.clock.now, pool_size=settings.storage.pool_size
        )
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
        approval = settings.approval
        # Approver groups' members are asked of Slack with the handlers' client (a dropped
        # connection is tried again once); refreshed in the background from `start`.
        self.approver_groups = ApproverGroups(self.web_client, approval.approvers)
        policy = Policy.of(
            approval.approvers,
            allow_self_approval=approval.allow_self_approval,
            members=self.approver_groups,
            required_approvals=approval.required_approvals,
        )
        self.lifecycle = Lifecycle(self.store, self.queue, self.events, policy, clock=self.clock)

        # This process's Prometheus registry (served at /metrics with SOCIALPOST_METRICS).
        self.metrics = Metrics()
        self.metrics.attach(self.events)
        guardrails = settings.guardrails
        content_policy = guardrails.content_policy
        budget = BudgetGuard(
            self.store, MonthlyBudget(guardrails.monthly_budget), now=self.clock.now
        )
        self.llm = LLMClient(
            list(settings.llm.deployments),
            timeout=settings.llm.timeout,
            cooldown=settings.llm.cooldown,
            metrics=self.metrics,
        )
        self.drafting = Drafting(
            self.store,
            self.lifecycle,
            self.events,
            self.queue,
            Drafter(self.llm, brand_voice=settings.llm.brand_voice, policy=content_policy),
            budget=budget,
        )
        self.worker.register(self.drafting.job_type())
        publishing = Publishing(
            self.store,
            self.lifecycle,
            self.publishers,
            cooldown=settings.publishing.platform_cooldown,
            grace=settings.schedule.grace,
        )
        self.worker.register(publishing.job_type())

        overview = Overview(self.store, policy, self.worker.types, scrub=scrub, budget=budget)
        slack = SlackDelivery(
            self.jobs_client,
            approval_channel=settings.approval.channel,
            dry_run_platforms=self.dry_run_platforms,
            scrub=scrub,
            policy=content_policy,
        )
        self.home = AppHome(self.store, overview, slack)
        self._stack.push_async_callback(self.home.aclose)
        self.slack_out = SlackOut(
            slack, Cards(self.store, self.lifecycle, self.events), self.home, clock=self.clock
        )
        self.slack_out.attach(self.events, self.queue, self.worker)
        api = settings.api
        if api.webhook_url is not None and api.webhook_secret is not None:
            Webhooks(
                api.webhook_url,
                api.webhook_secret.get_secret_value(),
                self.session,
                clock=self.clock,
                metrics=self.metrics,
            ).attach(self.events, self.queue, self.worker)
        deadlines = Deadlines(
            self.store,
            self.lifecycle,
            self.queue,
            self.events,
            approvers=settings.approval.approvers,
            reminder=settings.schedule.reminder,
            ttl=settings.schedule.ttl,
            clock=self.clock,
        )
        deadlines.attach(self.events)
        for job_type in deadlines.job_types():
            self.worker.register(job_type)

        limits = settings.limits
        limiter = RateLimiter(
            user_capacity=limits.rate_limit.capacity,
            user_per_seconds=limits.rate_limit.per_seconds,
            workspace_capacity=limits.workspace_rate_limit.capacity,
            workspace_per_seconds=limits.workspace_rate_limit.per_seconds,
        )
        editing = Editing(
            self.lifecycle, self.drafting, limiter, policy=content_policy, budget=budget
        )
        intake = Intake(
            self.store,
            self.lifecycle,
            self.drafting,
            limiter,
            offered_platforms=self.publishers,
            dry_run_platforms=self.dry_run_platforms,
            budget=budget,
        )
        self.api = ApiHandlers(
            service=DomainPosts(ApiIntake(self.store, intake, clock=self.clock), self.store),
            keys=ApiKeys(api.api_keys),
            limiter=AddressLimiter(api.api_rate_limit.capacity, api.api_rate_limit.per_seconds),
            ping=self.store.ping,
            trust_proxy=api.trust_proxy,
            metrics=self.metrics if api.metrics else None,
            refresh_metrics=self._count_jobs,
        )
        ideas = settings.ideas
        self.ideas = IdeaRuns(
            self.store,
            self.queue,
            self.events,
            intake,
            self.llm,
            limiter,
            plan=IdeasPlan(
                schedule=ideas.schedule,
                zone=ideas.zone,
                count=ideas.count,
                platforms=ideas.platforms,
                topics=ideas.topics,
                grace=settings.schedule.grace,
            ),
            brand_voice=settings.llm.brand_voice,
            clock=self.clock,
        )
        self.worker.register(self.ideas.job_type())
        self.services = Services(
            intake=intake,
            decisions=Decisions(
                self.store, self.lifecycle, self.queue, editing, policy=content_policy
            ),
            editing=editing,
            overview=overview,
            ideas=self.ideas,
            scheduling=Scheduling(self.lifecycle, self.queue),
        )

    async def _count_jobs(self, metrics: Metrics) -> None:
        """`socialpost_jobs` as the retry table has it now: dead jobs by their dead-letter
        queue, the others by their kind."""
        counts = await self.store.jobs.counts()
        rows = []
        for (kind, status), count in sorted(counts.items()):
            job_type = self.worker.types.get(kind)
            dead = status == JobStatus.DEAD.value and job_type is not None
            rows.append((job_type.dead_letter if dead and job_type else kind, status, count))
        metrics.set_jobs(rows)

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
        # Before the first click: who is in the approver groups; then kept fresh.
        self._stack.push_async_callback(self.approver_groups.aclose)
        await self.approver_groups.start(first_answer=GROUPS_FIRST_ANSWER)
        # The next ideas time, and one missed within the grace (it runs once the worker is up).
        await self.ideas.start_up()
        # Before any work: a request arriving while litellm still loads what it imports lazily
        # (and while the collector scans the start-up heap) waited most of a second for it.
        await self._warm_up()
        self._stack.push_async_callback(self.worker.stop, grace=self.settings.jobs.shutdown_grace)
        await self.worker.start()

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
