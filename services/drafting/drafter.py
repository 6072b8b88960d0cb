"""Brief + platform + tone -> a draft that fits the platform, ready for a human.

The LLM's answer is cleaned (trimmed, wrapping quotes and code fences removed) and measured by
the platform's own rule. An over-limit draft is sent back with its measured length, up to
`max_reprompts` times, before it can reach a human; if it still doesn't fit it is flagged
(`Draft.within_limit` is False) rather than thrown away.
"""

from __future__ import annotations

import re

import prompts
from services.drafting.llm import LLMClient, Message
from services.errors import GenerationUnavailable
from services.models import Completion, Draft
from services.platforms import measure_draft_async, spec_for

MAX_REPROMPTS = 2

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
