"""Each platform's name and length rules, measured the way the platform measures them.

X counts with its own weighting (URLs 23, emoji and CJK 2), through twitter-text-parser.
LinkedIn and Instagram count characters; Instagram also caps hashtags at 30.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twitter_text import parse_tweet

_HASHTAG = re.compile(r"(?<![\w&])#\w+")


@dataclass(frozen=True)
class Measurement:
    """A text measured against a platform's rules."""

    length: int
    limit: int
    problems: tuple[str, ...]
    parts: int = 1

    @property
    def within_limit(self) -> bool:
        """Whether the platform will take the text as it is."""
        return not self.problems


@dataclass(frozen=True)
class PlatformRules:
    """What one platform accepts."""

    slug: str
    name: str
    limit: int
    rule: str
    max_hashtags: int | None = None
    needs_image: bool = False

    def length(self, text: str) -> int:
        """The text's length as the platform counts it."""
        if self.slug == "x":
            return int(parse_tweet(text).weightedLength)
        return len(text)

    def measure(self, text: str) -> Measurement:
        """The length and every rule the text breaks."""
        length = self.length(text)
        problems = []
        if length > self.limit:
            problems.append(f"{length}/{self.limit} characters ({self.rule})")
        if self.max_hashtags is not None:
            hashtags = len(_HASHTAG.findall(text))
            if hashtags > self.max_hashtags:
                problems.append(f"{hashtags} hashtags, at most {self.max_hashtags} allowed")
        return Measurement(length=length, limit=self.limit, problems=tuple(problems))


PLATFORMS: dict[str, PlatformRules] = {
    "x": PlatformRules(
        slug="x",
        name="X",
        limit=280,
        rule="X's weighted count: links count 23, emoji and CJK characters 2",
    ),
    "linkedin": PlatformRules(slug="linkedin", name="LinkedIn", limit=3000, rule="characters"),
    "instagram": PlatformRules(
        slug="instagram",
        name="Instagram",
        limit=2200,
        rule="characters",
        max_hashtags=30,
        needs_image=True,
    ),
}


def rules_for(slug: str) -> PlatformRules:
    """The rules of the platform with this slug (`x`, `linkedin`, `instagram`)."""
    return PLATFORMS[slug]
