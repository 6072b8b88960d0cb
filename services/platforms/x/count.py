"""X's rules: a text counted the way X counts it, and measured against X's limit.

X counts with its own weighting (URLs 23, emoji and CJK 2) and refuses a few characters
(U+FFFE, U+FEFF, U+FFFF): twitter-text's rules, as twitter-text-parser implements them.

X's counter is bounded. twitter-text's URL pattern backtracks: on texts such as "a.a.a.…" one
`parse_tweet` is roughly quadratic (300 characters: 0.4 s, 3,000: 45 s), and Python's `re`
holds the GIL for all of it. So the count here is twitter-text's own, computed from its own
patterns and tables, with three changes to how it runs, none to what it counts:

- the text is taken token by token (URLs, emoji and entities never span whitespace, so this
  counts exactly what the whole text counts), each token's analysis cached, and the URL pattern
  run only on tokens where a URL is possible (a dot followed by a real top-level domain);
- the patterns run on the `regex` engine with a timeout and without holding the GIL;
- every count runs under a time budget (`services.platforms.budget`): a text that still can't
  be counted in time is refused as too complex, never let through unmeasured.

Before any of that, `x_lower_bound` refuses texts far over the limit without parsing them.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import regex
from twitter_text.config import config as twitter_config
from twitter_text.extract_urls import default_protocol, is_valid_url, max_tco_slug_length
from twitter_text.regexp.emoji import emoji as emoji_pattern
from twitter_text.regexp.extract_url import extract_url
from twitter_text.regexp.invalid_chars import invalid_chars
from twitter_text.regexp.invalid_domain_chars import invalid_domain_chars
from twitter_text.regexp.invalid_url_without_protocol_preceding_chars import (
    invalid_url_without_protocol_preceding_chars,
)
from twitter_text.regexp.spaces_group import spaces_group
from twitter_text.regexp.valid_ascii_domain import valid_ascii_domain
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_domain_chars import valid_domain_chars
from twitter_text.regexp.valid_gtld import valid_gtld
from twitter_text.regexp.valid_punycode import valid_punycode
from twitter_text.regexp.valid_tco_url import valid_tco_url

from services.platforms.base import Measurement
from services.platforms.budget import (
    MeasurementTooSlow,
    bounded,
    register_cache,
    remaining_budget,
)

MAX_URL_LENGTH = 4096
"""twitter-text's longest URL (protocol included): one URL covers at most this many characters."""
TOO_COMPLEX = (
    "too complex for X's character counter to measure in time "
    "(very long runs of words joined by dots); simplify it"
)


# --- twitter-text's patterns on the regex engine --------------------------------------------


def _on_regex_engine(pattern: re.Pattern[str]) -> regex.Pattern[str]:
    """twitter-text's compiled `re` pattern, compiled again for the `regex` engine (its
    version 0 is `re`-compatible; the tests compare the results)."""
    return regex.compile(pattern.pattern, pattern.flags | regex.VERSION0)


_URL = _on_regex_engine(extract_url)
_ASCII_DOMAIN = _on_regex_engine(valid_ascii_domain)
_TCO_URL = _on_regex_engine(valid_tco_url)
_EMOJI = _on_regex_engine(emoji_pattern)
_SPACE_CLASS = f"[{spaces_group}]"
_SPACES = regex.compile(f"({_SPACE_CLASS}+)")
_LINE_ENDINGS = regex.compile(r"\r\n|\r|\n")


def _alternatives(pattern: re.Pattern[str]) -> list[str]:
    """The names in a twitter-text TLD pattern, `(?:(?:a|b|…)(?=…))`."""
    body = pattern.pattern
    return body[len("(?:(?:") : body.index(")(?=")].split("|")


_ASCII_TLDS = frozenset(
    name.lower()
    for name in _alternatives(valid_gtld) + _alternatives(valid_cctld)
    if name.isascii()
)
# twitter-text's own top-level domain patterns, one after the other (each has its lookahead).
_TLD = regex.compile(
    "|".join(f"(?:{tld.pattern})" for tld in (valid_gtld, valid_cctld, valid_punycode)),
    regex.IGNORECASE | regex.VERSION0,
)
# A URL's domain ends in ".<tld>", the TLD followed by a character outside [0-9a-zA-Z@+-].
# After each dot: the run of those characters, and the character after it.
_AFTER_DOT = regex.compile(r"\.([0-9A-Za-z@+\-]*)(?=(.?))", regex.DOTALL)


# `re` (which twitter-text uses) and `regex` disagree on a few characters under IGNORECASE:
# `re` takes the dotless i (U+0131) for an i, and `regex`'s newer Unicode tables give two
# recent letters a case partner in the URL path class. The patterns run on a copy with those
# characters replaced by what `re` sees in them (the tests compare the engines on every code
# point).
AS_RE_SEES_IT = str.maketrans({"\u0131": "i", "\ua7dc": "\ue000", "\U0001df95": "\ue000"})


def tld_dots(text: str) -> list[int]:
    """The dots in `text` that may end a URL's domain: every URL holds one of them.

    After a dot, a run of ASCII letters (and digits, @, +, -) ended by an ASCII character is a
    TLD only if it is one of twitter-text's names (or punycode); anything else goes through
    twitter-text's TLD pattern itself.
    """
    if "." not in text:
        return []
    text = text.translate(AS_RE_SEES_IT)
    found = []
    for match in _AFTER_DOT.finditer(text, concurrent=True, timeout=remaining_budget()):
        run, after = match.group(1).lower(), match.group(2)
        if after.isascii():
            possible = run in _ASCII_TLDS or run.startswith("xn--")
        else:
            possible = bool(
                _TLD.match(text, match.start() + 1, concurrent=True, timeout=remaining_budget())
            )
        if possible:
            found.append(match.start())
    return found


# --- X's weights ----------------------------------------------------------------------------

_DEFAULTS = twitter_config["defaults"]
_SCALE: int = _DEFAULTS["scale"]
_URL_WEIGHT: int = _DEFAULTS["transformed_url_length"]
_EMOJI_WEIGHT: int = _DEFAULTS["default_weight"] // _SCALE
_HEAVY_WEIGHT: int = _DEFAULTS["default_weight"] // _SCALE
_LIGHT_WEIGHT = 1
assert all(r["weight"] == _SCALE * _LIGHT_WEIGHT for r in _DEFAULTS["ranges"]), "weights changed"
X_LIMIT: int = _DEFAULTS["max_weighted_tweet_length"]
# Characters outside twitter-text's light ranges (CJK, most symbols) weigh 2.
_HEAVY = regex.compile(
    "[^" + "".join(f"\\U{r['start']:08x}-\\U{r['end']:08x}" for r in _DEFAULTS["ranges"]) + "]"
)


def _plain_weight(text: str) -> int:
    if text.isascii():
        return len(text) * _LIGHT_WEIGHT
    heavy = len(_HEAVY.findall(text))
    return (len(text) - heavy) * _LIGHT_WEIGHT + heavy * _HEAVY_WEIGHT


@dataclass(frozen=True)
class Span:
    """Where an entity sits in a text, and how many characters twitter-text skips for it."""

    start: int
    end: int
    skipped: int


@dataclass(frozen=True)
class TokenEntities:
    """The URLs and emoji twitter-text finds in one whitespace-free token."""

    urls: tuple[Span, ...]
    emoji: tuple[Span, ...]
    weight: int


# A domain is labels of domain characters joined by single dots, each label starting and
# ending with a domain character (hyphens and underscores inside). Where a domain can't go on:
_DOMAIN_BREAK = regex.compile(
    rf"(?![.\-_])[{invalid_domain_chars.pattern}]|(?<=[.\-_])\.|(?<=\.)[\-_]"
)
_DOMAIN_CHAR = _on_regex_engine(valid_domain_chars)
_PROTOCOL = regex.compile(r"https?://", regex.IGNORECASE)


def _url_matches(token: str, dots: list[int]) -> Iterator[regex.Match[str]]:
    """What `finditer` of twitter-text's URL pattern finds in `token`, trying only the starts
    whose domain could reach a dot that may end a domain (on "a.a.a.…" the hopeless tries
    made the search quadratic)."""
    breaks = [
        match.start()
        for match in _DOMAIN_BREAK.finditer(token, concurrent=True, timeout=remaining_budget())
    ]

    def may_reach_tld(domain_start: int) -> bool:
        if domain_start >= len(token) or not _DOMAIN_CHAR.match(token, domain_start):
            return False
        dot = bisect_left(dots, domain_start)
        broken = bisect_right(breaks, domain_start)
        return dot < len(dots) and (broken == len(breaks) or dots[dot] < breaks[broken])

    def worth_trying(start: int) -> bool:
        # The pattern: a preceding character (or the start of the text), an optional
        # protocol, then the domain.
        for domain_start in (start, start + 1) if start == 0 else (start + 1,):
            protocol = _PROTOCOL.match(token, domain_start)
            if may_reach_tld(domain_start) or (protocol and may_reach_tld(protocol.end())):
                return True
        return False

    position, last = 0, dots[-1]
    while position <= last:
        if worth_trying(position):
            match = _URL.match(token, position, concurrent=True, timeout=remaining_budget())
            if match is not None:
                yield match
                position = match.end()
                continue
        position += 1


def _url_spans(token: str, dots: list[int], first: bool) -> tuple[Span, ...]:
    """twitter-text's `extract_urls_with_indices`, step by step, on the regex engine.

    The URL pattern looks at the character before a URL: a token that doesn't start the text
    is searched with a space before it, as it stands in the text (any of twitter-text's
    spaces acts the same), and its spans shifted back.
    """
    shift = 0 if first else 1
    text = token if first else f" {token}"
    return tuple(
        Span(span.start - shift, span.end - shift, span.skipped)
        for span in _spans_of_urls(text, [dot + shift for dot in dots])
    )


def _spans_of_urls(text: str, dots: list[int]) -> list[Span]:
    matching = text.translate(AS_RE_SEES_IT)

    def group(number: int, match: regex.Match[str]) -> str | None:
        start, end = match.span(number)
        return None if start < 0 else text[start:end]

    spans: list[Span] = []
    for match in _url_matches(matching, dots):
        before, url, protocol, domain, path = (group(n, match) for n in (2, 3, 4, 5, 7))
        assert before is not None
        assert url is not None
        assert domain is not None
        end = match.end()
        start = end - len(url)
        if not is_valid_url(url, protocol or default_protocol, domain):
            continue
        if protocol is None:
            if invalid_url_without_protocol_preceding_chars.match(before):
                continue
            last: Span | None = None
            for ascii_match in _ASCII_DOMAIN.finditer(
                matching, *match.span(5), concurrent=True, timeout=remaining_budget()
            ):
                ascii_domain = text[ascii_match.start() : ascii_match.end()]
                last = Span(ascii_match.start(), ascii_match.end(), len(ascii_domain))
                spans.append(last)
            if last is None:
                continue
            if path:
                spans[-1] = Span(last.start, end, len(url.replace(domain, ascii_domain)))
        else:
            tco = _TCO_URL.search(matching[start:end], concurrent=True, timeout=remaining_budget())
            if tco:
                slug = tco.group(1)
                if slug and len(slug) > max_tco_slug_length:
                    continue
                end = start + tco.end()
            spans.append(Span(start, end, end - start))
    return spans


@lru_cache(maxsize=8192)
def token_entities(token: str, first: bool = False) -> TokenEntities:
    """URLs and emoji of a token (no whitespace in it), and its weight as X counts it;
    `first` if the token starts the text (else whitespace comes before it)."""
    if token.isascii() and "." not in token:
        return TokenEntities((), (), len(token) * _LIGHT_WEIGHT)
    try:
        dots = tld_dots(token)
        urls = _url_spans(token, dots, first) if dots else ()
        emoji = (
            ()
            if token.isascii()
            else tuple(
                Span(m.start(), m.end(), m.end() - m.start())
                for m in _EMOJI.finditer(token, concurrent=True, timeout=remaining_budget())
            )
        )
    except TimeoutError as exc:
        raise MeasurementTooSlow from exc
    # parse_tweet's walk: a URL (then an emoji) starting at a position is counted whole and
    # skipped; any other character by its weight.
    by_start = {span.start: (_EMOJI_WEIGHT, span.skipped) for span in emoji}
    by_start.update({span.start: (_URL_WEIGHT, span.skipped) for span in urls})
    weight, position = 0, 0
    for start in sorted(by_start):
        if start < position:
            continue
        entity_weight, skipped = by_start[start]
        weight += _plain_weight(token[position:start]) + entity_weight
        position = start + skipped
    weight += _plain_weight(token[position:])
    return TokenEntities(urls, emoji, weight)


register_cache(token_entities.cache_clear)


def tokens(text: str) -> list[str]:
    """`text` cut into alternating whitespace-free tokens and runs of twitter-text's spaces
    (even indexes are tokens, possibly empty)."""
    return _SPACES.split(text)


def x_weights(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """X's weight of each code point of `text` (a URL or an emoji weighs all at its first
    code point, 0 after it) and the spans of its URLs and emoji.

    The sum over a range is the range's count on its own when it is cut at whitespace (and
    close to it elsewhere: `x_count` says for sure).
    """
    weights = [_LIGHT_WEIGHT] * len(text)
    if not text.isascii():
        for heavy in _HEAVY.finditer(text, concurrent=True, timeout=remaining_budget()):
            weights[heavy.start()] = _HEAVY_WEIGHT
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, piece in enumerate(tokens(text)):
        if not index % 2 and piece and not (piece.isascii() and "." not in piece):
            entities = token_entities(piece, first=index == 0)
            for span, weight in [(s, _EMOJI_WEIGHT) for s in entities.emoji] + [
                (s, _URL_WEIGHT) for s in entities.urls
            ]:
                start, end = offset + span.start, offset + span.end
                weights[start:end] = [weight] + [0] * (end - start - 1)
                spans.append((start, end))
        offset += len(piece)
        if index % 128 == 127:
            remaining_budget()
    return weights, spans


@dataclass(frozen=True)
class XCount:
    """A text counted by X's rules."""

    length: int
    """The weighted length (a lower bound when not `exact`)."""
    refused_characters: tuple[str, ...]
    """Characters X refuses in any post, as code points (`U+FFFE`)."""
    exact: bool = True


def _count_too_complex(text: str) -> XCount:
    return XCount(x_lower_bound(text), _refused_characters(text), exact=False)


def _refused_characters(text: str) -> tuple[str, ...]:
    found = sorted({f"U+{ord(char):04X}" for char in invalid_chars.findall(text)})
    return tuple(found)


@bounded(maxsize=512, when_too_slow=_count_too_complex)
def x_count(text: str) -> XCount:
    """`text` counted exactly as twitter-text's `parse_tweet` counts it (same weighted length;
    `refused_characters` empty exactly when it has no invalid character)."""
    normalized = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", text))
    weight = 0
    for index, piece in enumerate(tokens(normalized)):
        if index % 2:
            weight += _plain_weight(piece)
        elif piece:
            weight += token_entities(piece, first=index == 0).weight
        if index % 128 == 127:
            remaining_budget()
    return XCount(weight, _refused_characters(normalized))


# --- the pre-check --------------------------------------------------------------------------

# Code points that may add nothing to X's count: marks and the second halves of canonical
# compositions (NFC may merge them into the character before), emoji joiners, selectors,
# skin tones, tags, keycaps and regional indicators (an emoji sequence counts 2 in all), the
# character after a zero-width joiner, and the \n of \r\n (counted as one line break).
_ABSORBABLE = regex.compile(
    r"[\p{M}\u1160-\u11ff\ud7b0-\ud7ff\u200d\ufe0e\ufe0f\u20e3"
    r"\U0001f1e6-\U0001f1ff\U0001f3fb-\U0001f3ff\U000e0000-\U000e007f]"
    r"|(?<=\u200d)[^\n]|(?<=\r)\n"
)


_COUNTED_HEAVY = regex.compile(f"(?!{_ABSORBABLE.pattern}){_HEAVY.pattern}")


def _counted_weight(text: str) -> int:
    """A lower bound on the weight of NFC `text` if it holds no URL: each code point that
    can't be absorbed into the one before it, by its weight (an emoji sequence weighs 2, at
    its first code point)."""
    if text.isascii() and "\r" not in text:
        return len(text) * _LIGHT_WEIGHT
    counted = len(text) - _ABSORBABLE.subn("", text)[1]
    heavy = _COUNTED_HEAVY.subn("", text)[1]
    return counted * _LIGHT_WEIGHT + heavy * (_HEAVY_WEIGHT - _LIGHT_WEIGHT)


def x_lower_bound(text: str, *, count_whitespace: bool = True) -> int:
    """A cheap lower bound on X's count of `text`: never more than `x_count(text).length`.

    A token holding no possible TLD holds no URL, and its characters weigh what they weigh
    (an emoji sequence at least what its first code point does); a token with k possible
    TLDs holds at most k URLs of 23 each, each covering at most `MAX_URL_LENGTH` characters.
    """
    bound = 0
    most_per_url = _HEAVY_WEIGHT * MAX_URL_LENGTH
    for index, piece in enumerate(tokens(unicodedata.normalize("NFC", text))):
        if index % 2:
            if count_whitespace:
                bound += _counted_weight(piece)
            continue
        counted = _counted_weight(piece)
        if "." in piece:
            possible = len(tld_dots(piece))
            if possible:
                urls = min(possible, -(-counted // most_per_url))
                counted = min(counted, urls * _URL_WEIGHT + max(0, counted - urls * most_per_url))
        bound += counted
    return bound


# --- the rules ------------------------------------------------------------------------------

NAME = "X"
RULE = "X's weighted count: links count 23, emoji and CJK characters 2"
FAR_OVER = 2
"""A post whose lower bound is over this many times the limit is refused without parsing."""


def refused_problem(characters: tuple[str, ...]) -> str:
    """The problem of a text holding characters X refuses."""
    if len(characters) == 1:
        return f"contains {characters[0]}, a character {NAME} refuses: remove it"
    listed = ", ".join(characters[:-1]) + f" and {characters[-1]}"
    return f"contains {listed}, characters {NAME} refuses: remove them"


def over_limit(length: int, *, at_least: bool = False) -> str:
    """The problem of a post longer than X takes."""
    least = "at least " if at_least else ""
    return f"{least}{length}/{X_LIMIT} characters, over the limit ({RULE})"


def _too_complex(text: str) -> Measurement:
    count = _count_too_complex(text)
    problems = [TOO_COMPLEX]
    if count.refused_characters:
        problems.append(refused_problem(count.refused_characters))
    return Measurement(length=count.length, limit=X_LIMIT, problems=tuple(problems))


@bounded(maxsize=256, when_too_slow=_too_complex)
def measure(text: str) -> Measurement:
    """One X post: its weighted length and every rule it breaks."""
    bound = x_lower_bound(text)
    if bound > FAR_OVER * X_LIMIT:
        problems = [over_limit(bound, at_least=True)]
        if refused := _refused_characters(text):
            problems.append(refused_problem(refused))
        return Measurement(length=bound, limit=X_LIMIT, problems=tuple(problems))
    count = x_count(text)
    problems = []
    if not count.exact:
        problems.append(TOO_COMPLEX)
    elif count.length > X_LIMIT:
        problems.append(over_limit(count.length))
    elif count.length == 0:
        problems.append("the post is empty")
    if count.refused_characters:
        problems.append(refused_problem(count.refused_characters))
    return Measurement(length=count.length, limit=X_LIMIT, problems=tuple(problems))
