"""Brief + platform + tone -> a draft that fits the platform, ready for a human.

The LLM's answer is cleaned (trimmed, wrapping quotes and code fences removed) and measured by
the platform's own rule. An over-limit draft is sent back with its measured length, up to
`max_reprompts` times, before it can reach a human; if it still doesn't fit it is flagged
(`Draft.within_limit` is False) rather than thrown away.
"""

from __future__ import annotations

import asyncio
import re

import structlog

import prompts
from services.errors import GenerationUnavailable
from services.llm import LLMClient, Message
from services.models import Completion, Draft
from services.notifier import Notice
from services.outbox import Outbox, enqueue_card, enqueue_notice
from services.platforms import measure_draft_async, spec_for
from services.tasks import BackgroundTasks
from storage import Store, background_work
from storage.models import Post, PostStatus

log = structlog.get_logger(__name__)

MAX_REPROMPTS = 2
DRAFTING_CONCURRENCY = 8

_FENCE = re.compile(r"^```[\w-]*\s*\n(?P<body>.*?)\n?```$", re.DOTALL)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}


def clean_output(raw: str) -> str:
    """The post text inside an LLM answer: trimmed, without wrapping fences or quotes."""
    text = raw.strip()
    while True:
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group("body").strip()
            continue
        closing = _QUOTES.get(text[:1])
        inner = text[1:-1]
        # Only quotes that wrap the whole text; "a" and "b" stays as it is.
        if len(text) >= 2 and closing and text.endswith(closing) and text[0] not in inner:
            text = inner.strip()
            continue
        return text


def render_prompt(messages: list[Message]) -> str:
    """The conversation sent to the LLM, as stored on the post."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


class Drafter:
    """Writes drafts with the LLM client and the prompt templates."""

    def __init__(
        self, llm: LLMClient, *, brand_voice: str | None, max_reprompts: int = MAX_REPROMPTS
    ) -> None:
        self._llm = llm
        self._system = prompts.system_prompt(brand_voice)
        self._max_reprompts = max_reprompts

    async def draft(
        self,
        platform: str,
        brief: str,
        *,
        tone: str | None = None,
        thread: bool = False,
        previous: str | None = None,
        feedback: str | None = None,
    ) -> Draft:
        """A draft for `platform` (an X thread with `thread`); with `previous`, a new version
        of it guided by `feedback`.

        Raises `GenerationUnavailable` when no provider answers the first request.
        """
        rules = spec_for(platform)
        task = prompts.task_prompt(
            platform,
            brief,
            name=rules.name,
            tone=tone,
            limit=rules.limit,
            rule=rules.rule,
            thread=thread,
            max_hashtags=rules.max_hashtags,
        )
        if previous is not None:
            task = f"{task}\n\n{prompts.regenerate(previous, feedback)}"
        messages: list[Message] = [
            {"role": "system", "content": self._system},
            {"role": "user", "content": task},
        ]
        completion = await self._llm.complete(messages)
        fallback_used = completion.fallback_used
        text = clean_output(completion.text)
        measurement = await measure_draft_async(platform, text, thread=thread)
        reprompts = 0
        while not measurement.within_limit and reprompts < self._max_reprompts:
            reprompts += 1
            messages += [
                {"role": "assistant", "content": completion.text},
                {
                    "role": "user",
                    "content": prompts.reprompt(
                        rules.name,
                        length=measurement.length,
                        limit=rules.limit,
                        rule="; ".join(measurement.problems),
                    ),
                },
            ]
            try:
                retry: Completion = await self._llm.complete(messages)
            except GenerationUnavailable:
                # Keep the over-limit draft (flagged) rather than lose it.
                break
            completion = retry
            fallback_used = fallback_used or completion.fallback_used
            text = clean_output(completion.text)
            measurement = await measure_draft_async(platform, text, thread=thread)
        return Draft(
            text=text,
            platform=platform,
            length=measurement.length,
            limit=measurement.limit,
            within_limit=measurement.within_limit,
            provider=completion.provider,
            model=completion.model,
            configured_model=completion.configured_model,
            fallback_used=fallback_used,
            prompt=render_prompt(messages),
            raw_output=completion.text,
            reprompts=reprompts,
        )


class DraftingService:
    """Writes the draft of a stored post and records how it was made."""

    def __init__(
        self,
        store: Store,
        drafter: Drafter,
        outbox: Outbox,
        tasks: BackgroundTasks,
        *,
        concurrency: int = DRAFTING_CONCURRENCY,
    ) -> None:
        self._store = store
        self._drafter = drafter
        self._outbox = outbox
        self._tasks = tasks
        # litellm spends milliseconds of CPU per call: a burst of drafts must not starve the
        # event loop that acks Slack. Extra drafts wait their turn (they are stored already).
        self._slots = asyncio.Semaphore(concurrency)

    def start(self, post_id: str, *, feedback: str | None = None) -> None:
        """Draft the post in the background (it must be `generating`)."""
        self._tasks.spawn(self._queued(post_id, feedback), name=f"draft-{post_id}")

    async def _queued(self, post_id: str, feedback: str | None) -> None:
        # Drafts are background work: their writes wait behind those of people in Slack.
        with background_work():
            async with self._slots:
                await self.draft_post(post_id, feedback=feedback)

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
            # still go through (and if not, the next start fails the post).
            log.exception("draft_not_stored", post_id=post_id)
            return await self._record_failure(post, "the draft could not be saved")

    async def _save_draft(self, post: Post, draft: Draft) -> Post | None:
        """The draft becomes the post's new pending version, with its card update."""
        post_id = post.id
        async with self._store.transaction() as tx:
            stored = await tx.posts.transition(
                post_id,
                [PostStatus.GENERATING],
                PostStatus.PENDING,
                llm_provider=draft.provider,
                llm_model=draft.model,
                llm_deployment=draft.configured_model,
                llm_fallback=draft.fallback_used,
                prompt=draft.prompt,
                raw_output=draft.raw_output,
                failure_reason=None,
            )
            if stored is not None:
                stored = await tx.posts.add_version(
                    post_id,
                    draft.text,
                    "generated" if post.version == 0 else "regenerated",
                    llm_provider=draft.provider,
                    llm_model=draft.model,
                )
                await enqueue_card(tx, post_id)
        self._outbox.wake()
        return stored

    async def _record_failure(self, post: Post, reason: str) -> Post | None:
        if post.message:
            return await self._keep_previous_version(post, reason)
        async with self._store.transaction() as tx:
            stored = await tx.posts.transition(
                post.id,
                [PostStatus.GENERATING],
                PostStatus.FAILED_GENERATION,
                failure_reason=reason,
            )
            if stored is not None:
                await enqueue_card(tx, post.id)
                if post.requester:
                    await enqueue_notice(tx, post.id, post.requester, Notice.GENERATION_FAILED)
        self._outbox.wake()
        return stored

    async def _keep_previous_version(self, post: Post, reason: str) -> Post | None:
        """A regeneration failed: the post goes back to its previous version, saying so."""
        async with self._store.transaction() as tx:
            stored = await tx.posts.transition(
                post.id,
                [PostStatus.GENERATING],
                PostStatus.PENDING,
                failure_reason=f"regeneration failed: {reason}",
            )
            if stored is not None:
                await enqueue_card(tx, post.id)
        self._outbox.wake()
        return stored

    async def fail_orphans(self) -> int:
        """At start-up: posts left `generating` by an earlier process will never be drafted by
        it; mark them failed (the requester is told and can retry)."""
        orphans = await self._store.posts.with_status([PostStatus.GENERATING], limit=1000)
        for post in orphans:
            await self._record_failure(post, "interrupted by a restart")
        return len(orphans)
