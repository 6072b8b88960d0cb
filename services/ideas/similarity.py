"""When a proposed idea is "too close" to an idea or post of the last 30 days.

Two texts are compared on their *content words*: case, accents, punctuation and word order are
ignored, common English words ("the", "how", "our") are dropped, number words become digits
and each word is reduced to its stem (Snowball, so "reviews"/"review", "moving"/"moved" meet).
The score is rapidfuzz's `token_set_ratio` (0..100): the words both texts share, measured
against each text's own, so a reworded title ("Lessons from our first hackathon" / "Our first
hackathon: lessons learned") scores 100 and a different idea on the same theme ("Meet the
team: our new support engineers" / "Meet the team: our data scientists") about 60.

`TOO_CLOSE` (80) sits in the gap the tests measure between reworded duplicates (83 and up)
and distinct ideas on one theme (75 and below); see tests/unit/services/ideas/
test_similarity.py for the pairs. The rule is lexical: a synonym-only rewording ("faster" /
"speed up") scores lower than a word-for-word one, and an idea sharing most of its words
with an old one is dropped even if its angle is new. Both are stated in the README.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

import snowballstemmer
from rapidfuzz import fuzz

from storage.models import Seen

TOO_CLOSE = 80.0
"""Score (0..100) at or above which two ideas are the same idea."""
RECENT_DAYS = 30
"""How far back ideas and posts are compared (SPEC section 7.6)."""

_WORD = re.compile(r"\w+")
# fmt: off
_STOPWORDS = frozenset((
    "a", "an", "the", "and", "or", "but", "nor", "so", "of", "for", "to", "in", "on", "at", "by",
    "with", "from", "as", "into", "onto", "about", "over", "up", "out", "off", "is", "are",
    "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those",
    "there", "here", "our", "we", "us", "you", "your", "my", "i", "me", "their", "they", "them",
    "he", "she", "his", "her", "how", "why", "what", "when", "who", "which", "where", "new",
))
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}
# fmt: on


@cache
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def content_words(text: str) -> list[str]:
    """The stems of `text`'s content words, in order."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    words = [_NUMBER_WORDS.get(word, word) for word in _WORD.findall(plain)]
    stems: list[str] = _stemmer().stemWords([w for w in words if w not in _STOPWORDS])
    return stems


def closeness(first: str, second: str) -> float:
    """How alike two texts are on their content words, 0 (nothing shared) to 100."""
    a, b = content_words(first), content_words(second)
    if not a or not b:
        return 0.0
    if min(len(set(a)), len(set(b))) == 1:
        # One word is a subset of anything that contains it: compare as plain strings.
        return float(fuzz.ratio(" ".join(a), " ".join(b)))
    return float(fuzz.token_set_ratio(" ".join(a), " ".join(b)))


def too_close(title: str, description: str, seen: Seen) -> bool:
    """Whether the idea (`title`, `description`) is the same idea as `seen`."""
    if seen.title is not None and closeness(title, seen.title) >= TOO_CLOSE:
        return True
    return closeness(f"{title}. {description}", _full(seen)) >= TOO_CLOSE


def closest(title: str, description: str, seen: Iterable[Seen]) -> Seen | None:
    """The first of `seen` the idea is too close to, if any."""
    return next((item for item in seen if too_close(title, description, item)), None)


def _full(seen: Seen) -> str:
    return f"{seen.title}. {seen.text}" if seen.title else seen.text
