"""Finding the links in a post, for platforms that have no link rules of their own.

linkify-it (the link finder of markdown-it, as linkify-it-py) finds what a reader would take for
a link: URLs with a scheme, `www.` hosts, and bare domains such as "example.net" whose top-level
domain is real (its whole IANA list, not only the common ones). Email addresses are not links.

linkify-it's patterns run on `re`, which can't be interrupted; they are linear but slow on
long runs of dots (about 0.1 ms a character). So the text is taken token by token (a link
never spans whitespace), each token's links cached, the deadline checked between tokens, and a
token longer than any URL is refused as too complex to check rather than searched.
"""

from __future__ import annotations

from functools import lru_cache

import regex
from linkify_it import LinkifyIt
from linkify_it.tlds import TLDS

from services.platforms.budget import (
    MeasurementTooSlow,
    bounded,
    register_cache,
    remaining_budget,
)

LONGEST_TOKEN = 4096
"""twitter-text's longest URL: a longer whitespace-free run is hostile, not a link."""
_EMAIL = "mailto:"
_SPACES = regex.compile(r"\s+")

_linkify = LinkifyIt().tlds([tld.lower() for tld in TLDS], True)
# linkify-it compiles its patterns (the TLD list is long) on the first match: about a second,
# which must not land on the first draft's check and its time budget. Done once, at import.
_linkify.match("example.com")


@lru_cache(maxsize=8192)
def token_links(token: str) -> tuple[str, ...]:
    """The links linkify-it finds in one whitespace-free token, as written."""
    if "." not in token and ":" not in token:
        return ()
    matches = _linkify.match(token) or []
    return tuple(match.raw for match in matches if match.schema != _EMAIL)


register_cache(token_links.cache_clear)


def _too_complex(text: str) -> tuple[str, ...] | None:
    return None


@bounded(maxsize=256, when_too_slow=_too_complex)
def find_links(text: str) -> tuple[str, ...] | None:
    """Every link in `text`, in order; None when the text is too complex to search in time."""
    found: list[str] = []
    for token in _SPACES.split(text):
        if len(token) > LONGEST_TOKEN:
            raise MeasurementTooSlow
        remaining_budget()
        found += token_links(token)
    return tuple(found)
