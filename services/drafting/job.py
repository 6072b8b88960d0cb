"""The `draft` job: write the draft of a post in status `generating`, durably.

A submission, a Regenerate and a Retry of a failed draft queue this job in the same
transaction that stores the post (or moves it to `generating`), so a crash loses neither: a
draft cut off by a crash or a shutdown runs again after the restart (its lease expires; on
SQLite the start-up requeues it at once) and finishes the post. When no LLM answers
(`GenerationUnavailable`), or the draft can't be written or stored, the post ends
`failed_generation` at once (a regeneration goes back to its previous version instead) and the
requester is told: retrying the job could only repeat the wait.

At most `DRAFTING_CONCURRENCY` drafts run at once: litellm spends milliseconds of CPU per
call, and a burst of drafts must not starve the event loop that acks Slack. Extra drafts wait
their turn on the table, already stored.
"""

from __future__ import annotations

import json

import structlog

from services.drafting.budget import BudgetGuard
from services.drafting.drafter import Drafter
from services.errors import GenerationUnavailable
from services.events import ChannelNotice, EventBus, Notice, TellChannel, TellUser
from services.jobs import JobQueue, JobType, Transaction, finish_job
from services.lifecycle import Action, Lifecycle
from services.models import Draft
from storage import Store
from storage.models import Job, JobStatus, NewLLMCall, Post, PostStatus

log = structlog.get_logger(__name__)

DRAFT = "draft"
DRAFTING_CONCURRENCY = 8


def draft_key(post_id: str) -> str:
    """One draft of a post at a time."""
    return f"{DRAFT}:{post_id}"


class Drafting:
    """Queues and runs `draft` jobs."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        events: EventBus,
        queue: JobQueue,
        drafter: Drafter,
        *,
        concurrency: int = DRAFTING_CONCURRENCY,
        budget: BudgetGuard | None = None,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._events = events
        self._queue = queue
        self._drafter = drafter
        self._concurrency = concurrency
        self._budget = budget

    def job_type(self) -> JobType:
        """The `draft` kind, for the worker's registry."""
        return JobType(
            name=DRAFT,
            handler=self,
            dead_letter="dlq_draft",
            label="Draft",
            concurrency=self._concurrency,
        )

    async def queue(self, tx: Transaction, post_id: str, *, feedback: str | None = None) -> int:
        """Draft the post (in status `generating` once `tx` commits), guided by `feedback`
        when it is a regeneration."""
        return await self._queue.enqueue(
            tx,
            DRAFT,
            post_id=post_id,
            payload={"feedback": feedback} if feedback else {},
            key=draft_key(post_id),
        )

    async def run(self, job: Job) -> None:
        """Draft the job's post."""
        assert job.post_id is not None
        feedback = job.payload.get("feedback")
        await self.draft_post(job.post_id, feedback=feedback if isinstance(feedback, str) else None)

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """Only a failure to record a failure gets here: fail the post now, if it waits."""
        post = await tx.posts.get(job.post_id) if job.post_id else None
        if post is not None and post.status == PostStatus.GENERATING:
            await self._fail(tx, post, reason)

    async def draft_post(self, post_id: str, *, feedback: str | None = None) -> Post | None:
        """Draft a post in status `generating`; it ends `pending` or `failed_generation`.

        With a previous version on the post, the new one is a regeneration guided by
        `feedback`. Returns the post as stored afterwards (None if it wasn't generating).
        """
        post = await self._store.posts.get(post_id)
        if post is None or post.status != PostStatus.GENERATING or post.brief is None:
            return post
        try:
            draft = await self._drafter.draft(
                post.platform,
                post.brief,
                tone=post.tone,
                thread=post.thread,
                previous=post.message,
                feedback=feedback,
            )
        except GenerationUnavailable as exc:
            log.warning("generation_failed", post_id=post_id, failures=exc.failures)
            return await self._record_failure(post, str(exc))
        except Exception:
            # Never leave a post `generating` with nobody drafting it.
            log.exception("drafting_crashed", post_id=post_id)
            return await self._record_failure(post, "unexpected error while drafting")
        try:
            return await self._save_draft(post, draft)
        except Exception:
            # Nor when the draft can't be stored: the failure is a smaller write that may
            # still go through (and if not, the job is retried and finally fails the post).
            log.exception("draft_not_stored", post_id=post_id)
            return await self._record_failure(post, "the draft could not be saved")

    async def _log_calls(self, tx: Transaction, post: Post, draft: Draft) -> None:
        """Log what the draft's LLM calls cost (adding to the post's cost), and warn the
        approvers once a month when the spend reaches 80% of the budget."""
        for call in draft.calls:
            await tx.llm_calls.record(
                NewLLMCall(
                    post_id=post.id,
                    deployment=call.deployment,
                    model=call.configured_model,
                    prompt_tokens=call.prompt_tokens,
                    completion_tokens=call.completion_tokens,
                    cost=call.cost,
                )
            )
        if self._budget is None or self._budget.budget.limit is None:
            return
        spent = await self._budget.claim_warning(tx)
        if spent is not None:
            detail = json.dumps(
                {"spent": str(spent.known), "budget": str(self._budget.budget.limit)}
            )
            log.warning("llm_budget_warning", spent=str(spent.known))
            await self._events.emit(tx, TellChannel(ChannelNotice.BUDGET_WARNING, detail))

    async def _save_draft(self, post: Post, draft: Draft) -> Post | None:
        """The draft becomes the post's new pending version (its card update follows); its
        calls' cost is logged in the same transaction, whatever became of the post."""
        async with self._lifecycle.transaction() as tx:
            await finish_job(tx)  # the draft job is done when its draft is stored
            await self._log_calls(tx, post, draft)
            moved = await self._lifecycle.move(
                tx,
                post,
                Action.DRAFTED,
                llm_provider=draft.provider,
                llm_model=draft.model,
                llm_deployment=draft.configured_model,
                llm_fallback=draft.fallback_used,
                prompt=draft.prompt,
                raw_output=draft.raw_output,
                failure_reason=None,
            )
            if moved is None:
                return None
            return await tx.posts.add_version(
                post.id,
                draft.text,
                "generated" if post.version == 0 else "regenerated",
                llm_provider=draft.provider,
                llm_model=draft.model,
            )

    async def _record_failure(self, post: Post, reason: str) -> Post | None:
        async with self._lifecycle.transaction() as tx:
            await finish_job(tx)
            return await self._fail(tx, post, reason)

    async def _fail(self, tx: Transaction, post: Post, reason: str) -> Post | None:
        """No draft: a regeneration goes back to its previous version, saying so; a first
        draft fails, and the requester is told (the card says it too)."""
        if post.message:
            kept = await self._lifecycle.move(
                tx,
                post,
                Action.REGENERATION_FAILED,
                failure_reason=f"regeneration failed: {reason}",
            )
            return kept.post if kept else None
        failed = await self._lifecycle.move(tx, post, Action.DRAFT_FAILED, failure_reason=reason)
        if failed is not None and post.requester:
            await self._events.emit(
                tx, TellUser(post.requester, Notice.GENERATION_FAILED, post_id=post.id)
            )
        return failed.post if failed else None

    async def resume_orphans(self) -> int:
        """At start-up: a post `generating` without a draft job queued or running (left by a
        socialpost from before drafts were jobs) gets one. Returns how many."""
        resumed = 0
        for post in await self._store.posts.with_status([PostStatus.GENERATING], limit=1000):
            jobs = await self._store.jobs.for_post(post.id)
            if any(
                job.kind == DRAFT and job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
                for job in jobs
            ):
                continue
            async with self._queue.transaction() as tx:
                await self.queue(tx, post.id)
            resumed += 1
        return resumed
