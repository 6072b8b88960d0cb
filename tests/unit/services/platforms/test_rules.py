"""Length and validity rules, measured the way each platform measures, and bounded."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import regex
import twitter_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_domain_chars import valid_domain_chars
from twitter_text.regexp.valid_general_url_path_chars import valid_general_url_path_chars
from twitter_text.regexp.valid_gtld import valid_gtld
from twitter_text.regexp.valid_url_path_ending_chars import valid_url_path_ending_chars
from twitter_text.regexp.valid_url_preceding_chars import valid_url_preceding_chars
from twitter_text.regexp.valid_url_query_chars import valid_url_query_chars
from twitter_text.regexp.valid_url_query_ending_chars import valid_url_query_ending_chars

from services.platforms import PLATFORMS, spec_for
from services.platforms.budget import MeasurementTooSlow, clear_caches, off_loop
from services.platforms.x.count import AS_RE_SEES_IT, TOO_COMPLEX, x_count, x_lower_bound

# Pieces of text that exercise twitter-text's corners: URLs with and without protocol, t.co,
# punycode and IDN domains, characters `re` and `regex` fold differently, emoji sequences,
# combining marks, Hangul jamo, line endings, spaces, refused and directional characters.
PIECES = [
    "a",
    ".",
    "_",
    "-",
    "co",
    "com",
    "/",
    ":",
    "https://",
    "http://",
    "@",
    "#",
    "$",
    "日",
    "é",
    "e\u0301",
    "x",
    "1",
    "(",
    ")",
    "?",
    "=",
    "&",
    " ",
    "\n",
    "\r\n",
    "\r",
    "xn--",
    "t.co/",
    "中国",
    "\u212a",
    "\u017f",
    "K",
    "\u0131",
    "\u0130",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1fa\U0001f1f8",
    "#\ufe0f\u20e3",
    "\u3000",
    "\u00a0",
    "\u2028",
    "\ufffe",
    "\ufeff",
    "\u202e",
    "\u1100",
    "\u1161",
    "\u11a8",
    "!",
    ",",
    "~",
    "'",
    '"',
    "www.",
    "example",
    ".jp",
    ".рф",
    "РФ",
    "\u0600",
    "\u200d",
    "\ufe0f",
    "\U0001f3fb",
    "\x1c",
    "a.b.c.d.",
    "\ua7dc",
]
mixed_text = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
any_text = st.text(max_size=80)


def test_x_counts_links_as_23_and_emoji_as_2() -> None:
    """X's weighted count: a URL of any length is 23, an emoji 2, a CJK character 2."""
    x = spec_for("x")
    assert x.length("a" * 10) == 10
    assert x.length("see https://example.com/" + "a" * 100) == 4 + 23
    assert x.length("\U0001f600") == 2
    assert x.length("日本") == 4


def test_x_limit_is_280_weighted() -> None:
    """280 weighted characters fit; 141 CJK characters (282) don't, and say so."""
    x = spec_for("x")
    assert x.measure("a" * 280).within_limit
    over = x.measure("日" * 141)
    assert not over.within_limit and over.length == 282
    assert over.problems == (
        "282/280 characters, over the limit "
        "(X's weighted count: links count 23, emoji and CJK characters 2)",
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mixed_text, any_text))
# Found on the way: the character before a URL, a dotless i taken for an i by `re`, a t.co
# link cut short, a dot right after a TLD.
@example("\u3000\u00e9t.co/")
@example("a.b.c.d.a\u0131")
@example(".https://t.co/www.a")
@example("www.example.com.")
def test_x_count_is_twitter_texts_own(text: str) -> None:
    """The bounded count gives exactly parse_tweet's weighted length and validity."""
    clear_caches()
    parsed = parse_tweet(text)
    count = x_count(text)
    assert count.exact
    assert count.length == parsed.weightedLength
    assert parsed.valid == (not count.refused_characters and 0 < count.length <= 280)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mixed_text, any_text))
def test_lower_bound_never_exceeds_the_count(text: str) -> None:
    """The pre-check's bound is safe: never above X's count, with or without whitespace."""
    count = x_count(text).length
    assert x_lower_bound(text) <= count
    assert x_lower_bound(text, count_whitespace=False) <= count


def test_lower_bound_is_safe_for_every_emoji_and_composition() -> None:
    """Every emoji sequence twitter-text knows, and every canonical composition NFC may
    make, counts at least what the bound gives it."""
    emoji_test = Path(twitter_text.__file__).parent / "regexp" / "emoji-test.txt"
    sequences = [
        "".join(chr(int(code, 16)) for code in line.split(";")[0].split())
        for line in emoji_test.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(sequences) > 3000
    composed = [
        unicodedata.normalize("NFD", chr(code))
        for code in [*range(0x110000)]
        if unicodedata.decomposition(chr(code))[:1] not in ("", "<") or 0xAC00 <= code <= 0xD7A3
    ]
    for text in sequences + composed:
        assert x_lower_bound(text) <= x_count(text).length, text


def test_far_over_text_is_refused_without_parsing() -> None:
    """Text far over the limit is refused by the pre-check, with its bound ("at least")."""
    measured = spec_for("x").measure("a." * 1500)
    assert measured.length == 3000
    assert measured.problems[0].startswith("at least 3000/280 characters, over the limit")


def test_links_bound_the_pre_check_safely() -> None:
    """A 4,000-character link still counts 23: the pre-check lets it through to the count."""
    link = "https://example.com/" + "a" * 4000
    assert x_lower_bound(link) <= 23
    assert spec_for("x").measure(link).within_limit


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("a." * 1500, 3000),
        ("x.co." + "a." * 3000, 23 + 1 + 6000),
        ("1." * 3000, 6000),
        ("日." * 2000, 6000),
        ("co." * 1000, 23 + 1),
        ("co." * 3000, 9000),
        ("https://" + "a." * 2000, 8 + 4000),
        ("👨‍👩‍👧‍👦" * 2000, 4000),
    ],
)
def test_worst_inputs_are_counted_exactly(text: str, length: int) -> None:
    """Texts on which twitter-text's search is quadratic are counted, exactly."""
    clear_caches()
    count = x_count(text)
    assert count.exact and count.length == length


def test_too_complex_text_is_refused_in_plain_words() -> None:
    """A text the bounded count can't finish is refused as too complex, not let through."""
    text = " ".join(["a_" * 2000 + "b.com"] * 20)
    measured = spec_for("x").measure(text)
    assert TOO_COMPLEX in measured.problems
    assert not measured.within_limit


async def test_on_the_event_loop_a_costly_count_gives_up_and_runs_off_it() -> None:
    """On the loop, an uncached costly count stops within its few-millisecond budget;
    off the loop it finishes, and the loop then finds it cached."""
    clear_caches()
    text = "x.co." + "a." * 3000
    with pytest.raises(MeasurementTooSlow):
        x_count(text)
    counted = await off_loop(x_count, text)
    assert counted.exact and counted.length == 6024
    assert x_count(text) == counted


@pytest.mark.parametrize(
    ("text", "code_points"),
    [
        ("Launch day\ufffe", "U+FFFE"),
        ("Launch\ufeff day", "U+FEFF"),
        ("\uffffLaunch day", "U+FFFF"),
        ("Two\ufffe of\uffff them", "U+FFFE and U+FFFF"),
    ],
)
def test_characters_x_refuses_are_named(text: str, code_points: str) -> None:
    """X's own validity: non-characters and the BOM make a short post invalid, named."""
    measured = spec_for("x").measure(text)
    assert not parse_tweet(text).valid
    assert not measured.within_limit
    assert any(code_points in problem and "X refuses" in problem for problem in measured.problems)


def test_directional_controls_are_accepted_as_twitter_text_3_accepts_them() -> None:
    """twitter-text 3 counts directional marks and overrides (weight 2) and accepts them."""
    text = "\u202eabc\u202c \u200fd\u2066e\u2069"
    assert parse_tweet(text).valid
    assert spec_for("x").measure(text).within_limit


def test_url_pattern_classes_agree_between_regex_engines() -> None:
    """twitter-text's URL character classes match the same code points on `regex` (with
    the few characters `re` folds differently replaced) as on `re`."""
    every = "".join(map(chr, [*range(0xD800), *range(0xE000, 0x110000)]))
    seen_as_re = every.translate(AS_RE_SEES_IT)
    tld_characters = sorted(set(valid_gtld.pattern + valid_cctld.pattern) - set("(?:|)=[^]+-$"))
    classes = [
        valid_general_url_path_chars.pattern,
        valid_url_path_ending_chars.pattern.split("|")[0],
        valid_url_query_chars.pattern,
        valid_url_query_ending_chars.pattern,
        valid_domain_chars.pattern,
        valid_url_preceding_chars.pattern[len("(?:") :].split("|")[0],
        "[" + re.escape("".join(tld_characters)) + "]",
    ]
    for pattern in classes:
        on_re = {m.start() for m in re.finditer(pattern, every, re.IGNORECASE)}
        on_regex = {
            m.start()
            for m in regex.finditer(pattern, seen_as_re, regex.IGNORECASE | regex.VERSION0)
        }
        assert on_re == on_regex, (pattern[:40], sorted(on_re ^ on_regex)[:5])
    letters = [c for c in map(chr, range(0x250)) if re.fullmatch("[a-z]", c, re.IGNORECASE)]
    for letter in "abcdefghijklmnopqrstuvwxyz":
        for char in letters:
            assert bool(re.fullmatch(letter, char, re.IGNORECASE)) == bool(
                regex.fullmatch(letter, char.translate(AS_RE_SEES_IT), regex.IGNORECASE)
            ), (letter, char)


def test_instagram_caps_length_and_hashtags() -> None:
    """Instagram: 2200 characters and at most 30 hashtags."""
    instagram = spec_for("instagram")
    assert instagram.measure(" ".join(f"#tag{i}" for i in range(30))).within_limit
    too_many = instagram.measure(" ".join(f"#tag{i}" for i in range(31)))
    assert not too_many.within_limit and "31 hashtags" in too_many.problems[0]
    assert not instagram.measure("a" * 2201).within_limit
    assert instagram.needs_image


def test_linkedin_limit_is_3000_characters() -> None:
    """LinkedIn: 3000 characters."""
    linkedin = spec_for("linkedin")
    assert linkedin.measure("a" * 3000).within_limit
    assert not linkedin.measure("a" * 3001).within_limit


def test_limits_match_the_seeded_platform_table() -> None:
    """The rules agree with social_platforms as seeded by the first migration."""
    assert {slug: rules.limit for slug, rules in PLATFORMS.items()} == {
        "x": 280,
        "linkedin": 3000,
        "instagram": 2200,
    }
