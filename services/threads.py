"""X threads: a long text cut into numbered posts, each within X's weighted limit.

Explicit breaks (a line holding only `---`, as the thread prompt asks the LLM to write) are
kept; a part still too long is cut at sentence boundaries, then at words, and as a last resort
inside a word. Every part ends with its number, e.g. ` 2/5`.
"""

from __future__ import annotations

import re

from services.platforms import Measurement, rules_for

MAX_PARTS = 25
_BREAK = re.compile(r"^\s*-{3,}\s*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+")
# "a thread", "as a thread", "an X thread", "Twitter thread", "tweet thread", "thread of 5"...
# but not "thread-safe" or "reply in the Slack thread".
_ASKS_FOR_THREAD = re.compile(
    r"\b(?:a|an|as\s+a|x|twitter|tweet|tweetstorm)\s+thread\b(?![-\w])"
    r"|\bthread\s+of\s+(?:\d+|two|three|four|five|six)\b",
    re.IGNORECASE,
)


def asks_for_thread(brief: str) -> bool:
    """Whether a brief asks for a thread (then an X draft is written as one)."""
    return bool(_ASKS_FOR_THREAD.search(brief))


def _weight(text: str) -> int:
    return rules_for("x").length(text)


def _pack(pieces: list[str], budget: int, joiner: str) -> list[str]:
    """Greedily join pieces while the result fits `budget`; oversize pieces stay alone."""
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{joiner}{piece}" if current else piece
        if current and _weight(candidate) > budget:
            parts.append(current)
            current = piece
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def _hard_cut(text: str, budget: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for char in text:
        if current and _weight(current + char) > budget:
            parts.append(current)
            current = ""
        current += char
    return [*parts, current] if current else parts


def _cut(chunk: str, budget: int) -> list[str]:
    """`chunk` in pieces of at most `budget` weighted characters, cut as gently as possible."""
    if _weight(chunk) <= budget:
        return [chunk]
    parts: list[str] = []
    for sentence_group in _pack(_SENTENCE_END.split(chunk), budget, " "):
        if _weight(sentence_group) <= budget:
            parts.append(sentence_group)
            continue
        for word_group in _pack(sentence_group.split(), budget, " "):
            parts += (
                [word_group] if _weight(word_group) <= budget else _hard_cut(word_group, budget)
            )
    return parts


def split_thread(text: str, limit: int = 280) -> list[str]:
    """The numbered parts of a thread, each at most `limit` weighted characters.

    A text that fits one post stays one post, verbatim and unnumbered.
    """
    chunks = [chunk.strip() for chunk in _BREAK.split(text) if chunk.strip()]
    if not chunks:
        return []
    if len(chunks) == 1 and _weight(chunks[0]) <= limit:
        return chunks
    numbering = 4  # " 1/9"
    while True:
        budget = limit - numbering
        pieces = [piece for chunk in chunks for piece in _cut(chunk, budget)]
        total = len(pieces)
        if len(f" {total}/{total}") <= numbering:
            return [f"{piece} {n}/{total}" for n, piece in enumerate(pieces, 1)]
        numbering = len(f" {total}/{total}")


def _thread_problems(parts: list[str]) -> tuple[str, ...]:
    """What stops these parts from going out as a thread (nothing, usually)."""
    if not parts:
        return ("the thread is empty",)
    if len(parts) > MAX_PARTS:
        return (f"{len(parts)} posts, at most {MAX_PARTS} in a thread",)
    return ()


def measure_draft(platform: str, text: str, *, thread: bool = False) -> Measurement:
    """A draft measured by its platform's rules; an X thread part by part."""
    rules = rules_for(platform)
    if not (thread and platform == "x"):
        return rules.measure(text)
    parts = split_thread(text, rules.limit)
    return Measurement(
        length=rules.length(text),
        limit=rules.limit,
        problems=_thread_problems(parts),
        parts=len(parts),
    )
