"""Asking the LLM for ideas: at most one re-ask for a malformed answer, one for duplicates.

    ask -> malformed? ask again with the problem (once) -> still malformed: `MalformedIdeas`
        -> drop ideas too close to the last 30 days' ideas and posts (and to each other)
        -> some dropped and fewer than asked? ask again once with the dropped ones to avoid
           (a malformed answer to that keeps what the first answer gave)

`ask` is the conversation so far -> the LLM's text, so this module knows nothing of the LLM
client and is tested with a plain function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import prompts
from services.errors import MalformedIdeas
from services.ideas.models import Idea, parse_ideas
from services.ideas.similarity import closest
from storage.models import Seen

Message = dict[str, str]
Ask = Callable[[list[Message]], Awaitable[str]]


@dataclass(frozen=True)
class Dropped:
    """An idea dropped as too close to `like` (something recent, or another idea of the run)."""

    idea: Idea
    like: Seen


@dataclass(frozen=True)
class Proposal:
    """What one run got from the LLM: the ideas kept (at most the count asked), the ones
    dropped as duplicates, and how many times the LLM was asked."""

    kept: list[Idea]
    dropped: list[Dropped] = field(default_factory=list)
    asks: int = 0


@dataclass(frozen=True)
class Request:
    """What to ask for: `count` ideas for `platforms` (names), about `topics`, with `topic` to
    focus on this time, unlike `seen`; `today` as the prompt says it."""

    count: int
    platforms: Sequence[str]
    today: str
    topics: str | None = None
    topic: str | None = None
    brand_voice: str | None = None
    seen: Sequence[Seen] = ()


def _as_seen(idea: Idea) -> Seen:
    return Seen(title=idea.title, text=idea.description)


def select(
    candidates: Sequence[Idea], seen: Sequence[Seen], count: int
) -> tuple[list[Idea], list[Dropped]]:
    """Keep up to `count` of `candidates`, in order, that are not too close to `seen` or to
    an idea kept before them; the rest that were too close are `Dropped`."""
    kept: list[Idea] = []
    dropped: list[Dropped] = []
    for idea in candidates:
        if len(kept) == count:
            break
        like = closest(idea.title, idea.description, [*seen, *map(_as_seen, kept)])
        if like is None:
            kept.append(idea)
        else:
            dropped.append(Dropped(idea=idea, like=like))
    return kept, dropped


def _summary(seen: Seen) -> str:
    return f"{seen.title}: {seen.text}" if seen.title else seen.text


async def propose(ask: Ask, request: Request) -> Proposal:
    """Ask for ideas and keep the fresh ones; `MalformedIdeas` when two answers in a row were
    not ideas."""
    messages: list[Message] = [
        {"role": "system", "content": prompts.ideas_system(request.brand_voice)},
        {
            "role": "user",
            "content": prompts.ideas_request(
                request.count,
                platforms=", ".join(request.platforms),
                today=request.today,
                topics=request.topics,
                topic=request.topic,
                avoid=[_summary(item) for item in request.seen],
            ),
        },
    ]
    answer = await ask(messages)
    asks = 1
    try:
        candidates = parse_ideas(answer)
    except MalformedIdeas as problem:
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": prompts.ideas_malformed(request.count, str(problem))},
        ]
        answer = await ask(messages)
        asks += 1
        candidates = parse_ideas(answer)  # a second malformed answer fails the run
    kept, dropped = select(candidates, request.seen, request.count)
    missing = request.count - len(kept)
    if not dropped or missing <= 0:
        return Proposal(kept=kept, dropped=dropped, asks=asks)
    messages += [
        {"role": "assistant", "content": answer},
        {
            "role": "user",
            "content": prompts.ideas_again(missing, [_summary(_as_seen(d.idea)) for d in dropped]),
        },
    ]
    answer = await ask(messages)
    asks += 1
    try:
        again = parse_ideas(answer)
    except MalformedIdeas:
        return Proposal(kept=kept, dropped=dropped, asks=asks)
    more, dropped_again = select(again, [*request.seen, *map(_as_seen, kept)], missing)
    return Proposal(kept=kept + more, dropped=dropped + dropped_again, asks=asks)
