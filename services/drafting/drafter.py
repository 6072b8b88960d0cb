"""Brief + platform + tone -> a draft that fits the platform, ready for a human.

The LLM's answer is cleaned (trimmed, wrapping quotes and code fences removed) and checked
(`services.checks`): the platform's own rules and the content policy. An over-limit draft is
sent back with its measured length, up to `max_reprompts` times, and a draft that breaks the
content policy once, naming the problem, before it can reach a human; if it still doesn't
pass it is flagged (the card shows the findings) rather than thrown away. Every answer the
draft took is kept on it (`Draft.calls`), for the cost log.
"""

from __future__ import annotations

import re

import prompts
from services.checks import CheckResult, ContentPolicy, check_async
from services.drafting.llm import LLMClient, Message
from services.errors import GenerationUnavailable
from services.models import Completion, Draft
from services.platforms import spec_for

MAX_REPROMPTS = 2
MAX_POLICY_REPROMPTS = 1
"""SPEC section 7.4: a draft that breaks the content policy is re-prompted once."""

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
        self,
        llm: LLMClient,
        *,
        brand_voice: str | None,
        max_reprompts: int = MAX_REPROMPTS,
        policy: ContentPolicy | None = None,
    ) -> None:
        self._llm = llm
        self._system = prompts.system_prompt(brand_voice)
        self._max_reprompts = max_reprompts
        self._policy = policy or ContentPolicy()

    def _follow_up(self, platform: str, verdict: CheckResult, tries: dict[str, int]) -> str | None:
        """What to ask the LLM about a draft with findings (None: ask nothing more): the
        length while tries are left, the content policy once; `tries` counts them."""
        rules = spec_for(platform)
        asks = []
        length = [f.problem for f in verdict.findings if not f.is_policy]
        if length and tries["length"] < self._max_reprompts:
            tries["length"] += 1
            measurement = verdict.measurement
            asks.append(
                prompts.reprompt(
                    rules.name,
                    length=measurement.length,
                    limit=rules.limit,
                    rule="; ".join(length),
                )
            )
        problem = verdict.policy_problem
        if problem is not None and tries["policy"] < MAX_POLICY_REPROMPTS:
            tries["policy"] += 1
            asks.append(
                prompts.policy_reprompt(problem, allowed_domains=self._policy.allowed_domains)
            )
        return "\n\n".join(asks) if asks else None

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
        calls = [completion]
        fallback_used = completion.fallback_used
        text = clean_output(completion.text)
        verdict = await check_async(platform, text, self._policy, thread=thread)
        tries = {"length": 0, "policy": 0}
        while not verdict.publishable:
            ask = self._follow_up(platform, verdict, tries)
            if ask is None:
                break
            messages += [
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": ask},
            ]
            try:
                retry: Completion = await self._llm.complete(messages)
            except GenerationUnavailable:
                # Keep the flagged draft rather than lose it.
                break
            completion = retry
            calls.append(completion)
            fallback_used = fallback_used or completion.fallback_used
            text = clean_output(completion.text)
            verdict = await check_async(platform, text, self._policy, thread=thread)
        measurement = verdict.measurement
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
            reprompts=len(calls) - 1,
            calls=tuple(calls),
            findings=verdict.problems,
        )
