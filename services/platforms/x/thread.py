"""X threads: a long text cut into numbered posts, each within X's weighted limit.

Explicit breaks (a line holding only `---`, as the thread prompt asks the LLM to write) are
kept. Elsewhere a post ends at the best place that fits: a paragraph break, a line break, a
sentence end (`.!?…`, and the CJK full stop `。` and fullwidth marks, with no space after),
each taken when it leaves the post at least half full; then a space between words; then a
comma (CJK `、` and the fullwidth comma too) inside an over-long word; and, only for a word
longer than a whole post, any grapheme cluster boundary.
No post is ever cut inside a grapheme cluster (an emoji ZWJ sequence, a flag, a letter with its
accents) or inside a URL, mention, hashtag, cashtag or emoji. A post keeps the text exactly as
written, line breaks included; only the whitespace at a cut goes. Every part ends with its
number, e.g. ` 2/5`, and is checked by X's exact count.

Splitting and measuring are cached per text and bounded (see `services.platforms.budget`):
call them through `off_loop` from the event loop, and the plain calls find their answers there.

(The module is `thread`, not `threads`: Threads is also the name of a platform.)
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import regex
from twitter_text.regexp.punct import punct
from twitter_text.regexp.spaces_group import spaces_group

from services.platforms.base import Measurement
from services.platforms.budget import bounded, off_loop, remaining_budget
from services.platforms.x.count import (
    RULE,
    TOO_COMPLEX,
    X_LIMIT,
    refused_problem,
    x_count,
    x_lower_bound,
    x_weights,
)

MAX_PARTS = 25
MIN_FILL = 0.5
"""A paragraph, line or sentence break ends a post only if the post is at least this full."""
_BREAK = re.compile(r"^\s*-{3,}\s*$", re.MULTILINE)
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


# --- where a post may end -------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
_NEWLINE = r"(?:\r\n|[\n\r\u2028\u2029])"
# Spaces a post may end at: not the no-break ones ("100\u00a0km" stays together).
_BREAKING_SPACE = r"[^\S\u00a0\u2007\u202f]"
_PARAGRAPH = regex.compile(rf"{_NEWLINE}[^\S\r\n]*{_NEWLINE}")
_LINE = regex.compile(_NEWLINE)
_SENTENCE = regex.compile(
    rf"(?<=[.!?\u2026\u203c\u2049][)\]\"'\u00bb\u201d\u2019]*){_BREAKING_SPACE}+"
)
# A CJK full stop, exclamation or question mark, with any closing quotes and brackets.
_CJK_SENTENCE = regex.compile(
    r"[\u3002\uff01\uff1f\uff61]"
    r"[\u300d\u300f\uff09\u3015\u3011\u3009\u300b\u3017\u3019\u301b\"'\u201d\u2019)\]]*"
)
_WORD = regex.compile(f"{_BREAKING_SPACE}+")
_CLAUSE = regex.compile(r"[,;:\u3001\uff0c\uff1b\uff1a]")

# twitter-text's mentions, hashtags and cashtags (the patterns of its extractor: the Python
# port counts URLs and emoji only).
_MENTION = regex.compile(
    r"(?:(?<=^|[^a-zA-Z0-9_!#$%&*@\uff20])|(?<=(?:^|[^a-zA-Z0-9_+~.\-])[rR][tT]:?))"
    r"[@\uff20][a-zA-Z0-9_]{1,20}(?:/[a-zA-Z][a-zA-Z0-9_\-]{0,24})?"
)
_HASHTAG_CHAR = (
    r"\p{L}\p{M}\p{Nd}_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0"
    r"\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
_HASHTAG = regex.compile(
    rf"(?:(?<=^|[\ufe0e\ufe0f])|(?<![{_HASHTAG_CHAR}&]))[#\uff03](?![\ufe0f\u20e3])"
    rf"[{_HASHTAG_CHAR}]*[\p{{L}}\p{{M}}][{_HASHTAG_CHAR}]*"
)
_CASHTAG = regex.compile(
    rf"(?<=^|[{spaces_group}])\$[a-z]{{1,6}}(?:[._][a-z]{{1,2}})?(?=$|\s|[{punct}])",
    regex.IGNORECASE,
)


def _spans(pattern: regex.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [
        match.span()
        for match in pattern.finditer(text, concurrent=True, timeout=remaining_budget())
    ]


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class _Layout:
    """One chunk of a thread, prepared for cutting."""

    text: str
    weight: list[int]
    """`weight[i]`: X's weight of `text[:i]` (entities counted whole at their start)."""
    boundaries: list[int]
    """Grapheme cluster boundaries, 0 and len(text) included."""
    structure: list[list[int]]
    """Where a post may end at a paragraph, line and sentence break (each sorted)."""
    words: list[list[int]]
    """... between words, and after a comma inside a word."""
    clusters: list[int]
    """... at any grapheme boundary outside an entity."""

    def between(self, start: int, end: int) -> int:
        """The approximate weight of `text[start:end]`."""
        return self.weight[end] - self.weight[start]


def _layout(text: str) -> _Layout:
    weights, entity_spans = x_weights(text)
    prefix = [0]
    for weight in weights:
        prefix.append(prefix[-1] + weight)
    boundaries = [0, *(match.end() for match in _GRAPHEME.finditer(text))]
    remaining_budget()
    entities = _merged(
        entity_spans + _spans(_MENTION, text) + _spans(_HASHTAG, text) + _spans(_CASHTAG, text)
    )
    # A post may end at a cluster boundary outside every URL, mention, hashtag, cashtag
    # and emoji.
    allowed_set = set(boundaries) - {0, len(text)}
    for start, end in entities:
        allowed_set -= set(range(start + 1, end))

    def ends(*pattern_ends: tuple[regex.Pattern[str], bool]) -> list[int]:
        found: set[int] = set()
        for pattern, at_end in pattern_ends:
            for match in pattern.finditer(text, concurrent=True, timeout=remaining_budget()):
                found.add(match.end() if at_end else match.start())
        return sorted(found & allowed_set)

    return _Layout(
        text=text,
        weight=prefix,
        boundaries=boundaries,
        structure=[
            ends((_PARAGRAPH, False)),
            ends((_LINE, False)),
            ends((_SENTENCE, False), (_CJK_SENTENCE, True)),
        ],
        words=[ends((_WORD, False)), ends((_CLAUSE, True))],
        clusters=sorted(allowed_set),
    )


def _last_within(positions: list[int], start: int, end: int) -> int | None:
    """The last of the sorted `positions` in (start, end]."""
    index = bisect_right(positions, end) - 1
    return positions[index] if index >= 0 and positions[index] > start else None


def _cut_at(layout: _Layout, start: int, budget: int) -> int:
    """Where the post starting at `start` ends, by approximate weight."""
    reach = bisect_right(layout.weight, layout.weight[start] + budget) - 1
    for positions in layout.structure:
        cut = _last_within(positions, start, reach)
        if cut is not None and layout.between(start, cut) >= budget * MIN_FILL:
            return cut
    for positions in layout.words:
        cut = _last_within(positions, start, reach)
        if cut is not None:
            return cut
    candidates = [_last_within(positions, start, reach) for positions in layout.structure]
    if found := [cut for cut in candidates if cut is not None]:
        return max(found)
    # Inside a word longer than a post: any cluster boundary outside an entity, then (an
    # entity longer than a post) any cluster boundary, then (one cluster longer than a post)
    # the end of that cluster: that part stays over the limit and the measurement says so.
    for positions in (layout.clusters, layout.boundaries):
        cut = _last_within(positions, start, reach)
        if cut is not None:
            return cut
    return layout.boundaries[bisect_right(layout.boundaries, start)]


def _trimmed_end(layout: _Layout, start: int, cut: int) -> int:
    """`cut` moved back over trailing whitespace, to a cluster boundary."""
    end = start + len(layout.text[start:cut].rstrip())
    return layout.boundaries[bisect_left(layout.boundaries, end)]


def _next_start(layout: _Layout, cut: int) -> int:
    """The start of the next post: `cut` moved on over whitespace, to a cluster boundary."""
    rest = layout.text[cut:]
    start = cut + len(rest) - len(rest.lstrip())
    return layout.boundaries[bisect_right(layout.boundaries, start) - 1]


def _cut(chunk: str, budget: int) -> list[str]:
    """`chunk` in posts of at most `budget` by X's exact count, cut as gently as possible."""
    layout = _layout(chunk)
    parts: list[str] = []
    start = _next_start(layout, 0)
    while start < len(chunk):
        allowed = budget
        while True:
            remaining_budget()
            end = len(chunk)
            if layout.between(start, end) > allowed:
                end = _cut_at(layout, start, allowed)
            trimmed = _trimmed_end(layout, start, end)
            overshoot = x_count(chunk[start:trimmed]).length - budget
            # The approximate weights can be off where a cut changes what X sees as a URL.
            if overshoot <= 0 or allowed - overshoot < 1 or end - start <= 1:
                break
            allowed -= overshoot
        if trimmed > start:
            parts.append(chunk[start:trimmed])
        start = _next_start(layout, end)
    return parts


# --- threads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Thread:
    parts: tuple[str, ...]
    measured: bool = True
    """False: too complex to split in time (`parts` is then the whole text)."""


def _unsplit(text: str, limit: int) -> _Thread:
    return _Thread((text.strip(),) if text.strip() else (), measured=False)


@bounded(maxsize=128, when_too_slow=_unsplit)
def _thread(text: str, limit: int) -> _Thread:
    chunks = [chunk.strip() for chunk in _BREAK.split(text) if chunk.strip()]
    if not chunks:
        return _Thread(())
    if len(chunks) == 1 and x_count(chunks[0]).length <= limit:
        return _Thread((chunks[0],))
    numbering = len(" 1/9")
    while True:
        pieces = [piece for chunk in chunks for piece in _cut(chunk, limit - numbering)]
        total = len(pieces)
        if len(f" {total}/{total}") <= numbering:
            return _Thread(tuple(f"{piece} {n}/{total}" for n, piece in enumerate(pieces, 1)))
        numbering = len(f" {total}/{total}")


def split_thread(text: str, limit: int = X_LIMIT) -> list[str]:
    """The numbered parts of a thread, each at most `limit` weighted characters.

    A text that fits one post stays one post, verbatim and unnumbered.
    """
    return list(_thread(text, limit).parts)


async def split_thread_async(text: str, limit: int = X_LIMIT) -> list[str]:
    """`split_thread`, computed off the event loop (and cached for it)."""
    return await off_loop(split_thread, text, limit)


def _thread_problems(parts: tuple[str, ...]) -> list[str]:
    """What stops these parts from going out as a thread (nothing, usually)."""
    if not parts:
        return ["the thread is empty"]
    if len(parts) > MAX_PARTS:
        return [f"{len(parts)} posts, at most {MAX_PARTS} in a thread"]
    return []


def _thread_too_complex(text: str) -> Measurement:
    return Measurement(length=x_lower_bound(text), limit=X_LIMIT, problems=(TOO_COMPLEX,), parts=0)


@bounded(maxsize=256, when_too_slow=_thread_too_complex)
def measure_thread(text: str) -> Measurement:
    """A draft measured as an X thread: split, and every part measured by X's exact count."""
    # However it is cut, every character but the whitespace at cuts and the break lines is in
    # some post: more than MAX_PARTS full posts' worth can't fit, whatever the split.
    bound = x_lower_bound(_BREAK.sub("", text), count_whitespace=False)
    if bound > MAX_PARTS * X_LIMIT:
        problem = (
            f"at least {bound} characters ({RULE}), over the limit: more than a "
            f"thread of {MAX_PARTS} posts can hold"
        )
        return Measurement(length=bound, limit=X_LIMIT, problems=(problem,), parts=0)
    split = _thread(text, X_LIMIT)
    whole = x_count(text)
    problems = [] if split.measured and whole.exact else [TOO_COMPLEX]
    problems += _thread_problems(split.parts)
    for number, part in enumerate(split.parts[:MAX_PARTS], 1):
        length = x_count(part).length
        if length > X_LIMIT:
            problems.append(
                f"post {number} is {length}/{X_LIMIT} characters, over the limit ({RULE})"
            )
    if whole.refused_characters:
        problems.append(refused_problem(whole.refused_characters))
    return Measurement(
        length=whole.length,
        limit=X_LIMIT,
        problems=tuple(problems),
        parts=len(split.parts),
    )
