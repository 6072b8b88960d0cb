"""Idea runs: at each scheduled time (or on `/socialpost ideas`), ask for ideas and draft them.

Exactly once per scheduled time. A time is *claimed* by inserting its `idea_runs` row (key
`ideas:<UTC ISO time>`, the primary key) together with its `ideas` job due at that time, in
one transaction; of any number of processes claiming it, one inserts and queues, the others
find the row and do nothing. From then on the jobs worker runs it (leases, retries after a
crash). Claims are made at start-up (the next time, and the latest missed one if it is at
most SOCIALPOST_SCHEDULE_GRACE old) and by each scheduled run (the time after it), so the
schedule keeps itself going without a timer of its own.

A run asks the LLM (`proposer.propose`), stores the ideas it kept on its row, then submits
each through the one intake (`Intake.submit`, request id `<run key>:<n>`): a run interrupted
after asking drafts the same ideas when it runs again, and an idea already submitted is not
submitted twice. What a run could not do is said in the approval channel (`TellChannel`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from services.clock import Clock
from services.drafting.llm import LLMClient, Message
from services.errors import (
    GenerationUnavailable,
    InvalidRequest,
    JobFailed,
    MalformedIdeas,
    RateLimited,
)
from services.events import ChannelNotice, EventBus, TellChannel
from services.ideas.models import Idea
from services.ideas.proposer import Proposal, Request, propose
from services.ideas.schedule import IdeaSchedule, due_at_start, run_key
from services.ideas.similarity import RECENT_DAYS
from services.intake import DraftRequest, Intake
from services.jobs import JobQueue, JobType
from services.platforms import spec_for
from services.ratelimit import RateLimiter
from storage import Store, Transaction
from storage.models import IdeaRun, IdeaRunStatus, Job, NewIdeaRun

log = structlog.get_logger(__name__)

IDEAS = "ideas"
"""The job kind."""
IDEAS_REQUESTER = "socialpost ideas"
"""The requester of the posts a run drafts (SPEC section 7.6)."""
_FINISHED = {IdeaRunStatus.DONE, IdeaRunStatus.FAILED, IdeaRunStatus.MISSED}


@dataclass(frozen=True)
class IdeasPlan:
    """What runs ask for (SOCIALPOST_IDEAS_*, SOCIALPOST_TIMEZONE, SOCIALPOST_SCHEDULE_GRACE):
    `count` ideas for `platforms` about `topics`, at the times of `schedule` (None: only on
    request), a missed time run at start-up when at most `grace` late."""

    schedule: IdeaSchedule | None
    zone: ZoneInfo
    count: int
    platforms: tuple[str, ...]
    topics: str | None
    grace: timedelta


class IdeaRuns:
    """Claims scheduled times, runs `ideas` jobs, and starts runs on request."""

    def __init__(
        self,
        store: Store,
        queue: JobQueue,
        events: EventBus,
        intake: Intake,
        llm: LLMClient,
        limiter: RateLimiter,
        *,
        plan: IdeasPlan,
        brand_voice: str | None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._queue = queue
        self._events = events
        self._intake = intake
        self._llm = llm
        self._limiter = limiter
        self._plan = plan
        self._schedule = plan.schedule
        self._grace = plan.grace
        self._brand_voice = brand_voice
        self._clock = clock

    def job_type(self) -> JobType:
        """The `ideas` kind: one run at a time, so each run sees the ideas of the one before."""
        return JobType(
            name=IDEAS, handler=self, dead_letter="dlq_ideas", label="Ideas run", concurrency=1
        )

    async def start_up(self) -> None:
        """Claim the next scheduled time, and the latest missed one if it is within the
        grace (it runs now); times already claimed, by this or any process, are left."""
        if self._schedule is None:
            return
        now = self._clock.now()
        missed = due_at_start(self._schedule, now=now, grace=self._grace)
        async with self._queue.transaction() as tx:
            if missed is not None and await self._claim(tx, missed):
                log.info("ideas_missed_run_claimed", scheduled_for=missed.isoformat())
            await self._claim(tx, self._schedule.next_after(now))

    async def _claim(self, tx: Transaction, when: datetime) -> bool:
        """Claim the scheduled time `when` with its job, unless it is claimed already."""
        key = run_key(when)
        if not await tx.ideas.claim(NewIdeaRun(key=key, scheduled_for=when)):
            return False
        await self._queue.enqueue(tx, IDEAS, payload={"run": key}, run_at=when, key=key)
        return True

    async def run_now(self, requested_by: str, topic: str | None = None) -> str:
        """Start a run now for `requested_by` (their drafting rate limit applies: raises
        `RateLimited`); returns its key."""
        key = f"ideas:now:{uuid.uuid4()}"
        topic = " ".join((topic or "").split()) or None
        async with self._queue.transaction() as tx:
            await self._limiter.acquire(tx, requested_by, drafts=0)
            await tx.ideas.claim(NewIdeaRun(key=key, requested_by=requested_by, topic=topic))
            await self._queue.enqueue(tx, IDEAS, payload={"run": key}, key=key)
        return key

    async def history(self, limit: int = 5) -> list[IdeaRun]:
        """The newest runs, newest first."""
        return await self._store.ideas.recent(limit)

    async def run(self, job: Job) -> None:
        """Carry out one run (a job of the `ideas` kind)."""
        key = str(job.payload["run"])
        run = await self._store.ideas.get(key)
        if run is None or run.status in _FINISHED:
            return
        now = self._clock.now()
        if run.scheduled_for is not None and self._schedule is not None:
            # The schedule goes on whatever becomes of this run.
            async with self._queue.transaction() as tx:
                await self._claim(tx, self._schedule.next_after(max(now, run.scheduled_for)))
        if run.ideas is None:
            if (stale := self._stale(run, now)) is not None:
                await self._finish(run, IdeaRunStatus.MISSED, detail=stale)
                return
            ideas = await self._ask(run, now)
            if ideas is None:
                return
        else:
            ideas = [Idea.model_validate(idea) for idea in run.ideas]
        await self._draft(run, ideas)

    def _stale(self, run: IdeaRun, now: datetime) -> str | None:
        """Why a scheduled run must not run now, if it mustn't."""
        when = run.scheduled_for
        if when is None:
            return None
        if self._schedule is None or not self._schedule.fires_at(when):
            return "no longer on the schedule (SOCIALPOST_IDEAS_SCHEDULE changed)"
        if now - when > self._grace:
            late = int((now - when).total_seconds())
            return f"{late} seconds late, more than SOCIALPOST_SCHEDULE_GRACE"
        return None

    def _platforms(self) -> tuple[str, ...]:
        offered = self._intake.offered_platforms
        return tuple(slug for slug in self._plan.platforms if slug in offered)

    async def _ask(self, run: IdeaRun, now: datetime) -> list[Idea] | None:
        """Ask the LLM for the run's ideas and store the kept ones; None when the run failed
        (said in the approval channel). Raises `JobFailed` when no provider answered."""
        seen = await self._store.ideas.seen_since(now - timedelta(days=RECENT_DAYS))
        request = Request(
            count=self._plan.count,
            platforms=[spec_for(slug).name for slug in self._platforms()],
            today=now.astimezone(self._plan.zone).strftime("%A %d %B %Y"),
            topics=self._plan.topics,
            topic=run.topic,
            brand_voice=self._brand_voice,
            seen=seen,
        )
        try:
            proposal: Proposal = await propose(self._complete, request)
        except MalformedIdeas as exc:
            await self._fail(run, f"the LLM's answer could not be read, twice ({exc})")
            return None
        except GenerationUnavailable as exc:
            raise JobFailed(str(exc), transient=True) from exc
        log.info(
            "ideas_proposed",
            run=run.key,
            kept=len(proposal.kept),
            dropped=len(proposal.dropped),
            asks=proposal.asks,
        )
        async with self._store.transaction() as tx:
            kept = [idea.model_dump() for idea in proposal.kept]
            await tx.ideas.save_ideas(run.key, kept, dropped=len(proposal.dropped))
        if not proposal.kept:
            await self._fail(run, "every idea the LLM proposed was too close to a recent one")
            return None
        return proposal.kept

    async def _complete(self, messages: list[Message]) -> str:
        return (await self._llm.complete(messages)).text

    async def _draft(self, run: IdeaRun, ideas: Sequence[Idea]) -> None:
        """Submit each idea through the intake; say what could not be drafted."""
        platforms = self._platforms()
        if not platforms:
            await self._fail(run, "none of SOCIALPOST_IDEAS_PLATFORMS is offered (credentials)")
            return
        drafted, skipped = 0, []
        for index, idea in enumerate(ideas):
            request = DraftRequest(
                request_id=f"{run.key}:{index}",
                requester=IDEAS_REQUESTER,
                brief=idea.brief(),
                platforms=platforms,
                title=idea.title,
                per_user_limit=False,
            )
            try:
                await self._intake.submit(request)
            except RateLimited as limited:
                wait = max(1, int(-(-limited.retry_after // 1)))
                skipped.append(f"“{idea.title}”: the drafting rate limit (free again in {wait} s)")
            except InvalidRequest as invalid:
                skipped.append(f"“{idea.title}”: {invalid}")
            else:
                drafted += 1
        detail = "\n".join(f"• {line}" for line in skipped) or None
        async with self._queue.transaction() as tx:
            await tx.ideas.finish(run.key, IdeaRunStatus.DONE, drafted=drafted, detail=detail)
            if detail is not None:
                await self._events.emit(tx, TellChannel(ChannelNotice.IDEAS_SKIPPED, detail))

    async def _fail(self, run: IdeaRun, reason: str) -> None:
        async with self._queue.transaction() as tx:
            await self._fail_in(tx, run.key, reason)

    async def _fail_in(self, tx: Transaction, key: str, reason: str) -> None:
        await tx.ideas.finish(key, IdeaRunStatus.FAILED, detail=reason)
        await self._events.emit(tx, TellChannel(ChannelNotice.IDEAS_FAILED, reason))
        log.warning("ideas_run_failed", run=key, reason=reason)

    async def _finish(self, run: IdeaRun, status: IdeaRunStatus, *, detail: str) -> None:
        async with self._store.transaction() as tx:
            await tx.ideas.finish(run.key, status, detail=detail)
        log.warning("ideas_run_skipped", run=run.key, status=status.value, reason=detail)

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """The run failed for good (no LLM answered, attempt after attempt): say so."""
        await self._fail_in(tx, str(job.payload["run"]), reason)
