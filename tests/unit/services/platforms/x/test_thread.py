"""The X thread splitter: where it cuts, what it keeps, and how a thread is measured."""

from __future__ import annotations

import itertools

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twitter_text import extract_urls_with_indices, parse_tweet

from services.platforms import measure_draft
from services.platforms.budget import clear_caches
from services.platforms.x.thread import (
    _BREAK,
    _CASHTAG,
    _HASHTAG,
    _MENTION,
    MAX_PARTS,
    split_thread,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
FLAG = "\U0001f1fa\U0001f1f8"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
GRAPHEME = regex.compile(r"\X")
CJK_SENTENCE_END = regex.compile(r"[\u3002\uff01\uff1f][\u300d\u300f\uff09\"'\u201d\u2019)\]]*$")

WORDS = st.sampled_from(
    [
        "hello",
        "world",
        "thread",
        "a",
        "supercalifragilistic",
        "日本語",
        "中文",
        "テスト",
        "한국어",
        FAMILY,
        FLAG,
        ENGLAND,
        "\U0001f44d\U0001f3fd",
        "e\u0301te\u0301",
        "https://example.com/path?q=1",
        "example.org",
        "https://t.co/abc123",
        "@someone",
        "#hashtag",
        "#日本",
        "$AAPL",
        "x" * 40,
        "日" * 30,
        "\u3002",
        "\uff01",
        "\uff1f",
        ".",
        "!",
        "?",
        ",",
        "\u3001",
        "(see)",
        "\u201cquoted.\u201d",
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "", "\n", "\n\n", "  ", "\n- ", ". ", "\u3002"])


@st.composite
def thread_texts(draw: st.DrawFn) -> str:
    """Mixed text: words, CJK, emoji sequences, flags, links, mentions, tags, line breaks,
    sometimes with explicit `---` breaks."""
    pieces = []
    for _ in range(draw(st.integers(1, 400))):
        pieces += [draw(WORDS), draw(SEPARATORS)]
    for _ in range(draw(st.integers(0, 2))):
        pieces.insert(draw(st.integers(0, len(pieces))), "\n---\n")
    return "".join(pieces)


def bodies(text: str, parts: list[str]) -> list[str]:
    """The parts without their numbers, checking the numbering on the way."""
    numbered = len(parts) > 1 or len([c for c in _BREAK.split(text) if c.strip()]) > 1
    if not numbered:
        return parts
    total = len(parts)
    for number, part in enumerate(parts, 1):
        assert part.endswith(f" {number}/{total}")
    return [part[: -len(f" {number}/{total}")] for number, part in enumerate(parts, 1)]


def cut_positions(text: str, parts: list[str]) -> list[tuple[int, int]]:
    """Where each part sits in `text`: in order, with only whitespace or break lines between."""
    spans, cursor = [], 0
    # A part never starts inside a break line (its "-" may also occur in a "---").
    breaks = [match.span() for match in _BREAK.finditer(text)]
    for body in bodies(text, parts):
        start = text.find(body, cursor)
        while start >= 0 and any(begin <= start < end for begin, end in breaks):
            start = text.find(body, start + 1)
        assert start >= 0, body
        assert not _BREAK.sub("", text[cursor:start]).strip()
        spans.append((start, start + len(body)))
        cursor = start + len(body)
    assert not _BREAK.sub("", text[cursor:]).strip()
    return spans


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(thread_texts())
def test_every_part_fits_keeps_entities_and_loses_nothing(text: str) -> None:
    """Over mixed text: each numbered part is within 280 by twitter-text; the parts are the
    text in order (only whitespace at cuts and break lines dropped); no cut falls inside a
    grapheme cluster, URL, mention, hashtag or cashtag; a cut inside a word only when that
    word alone is longer than a post."""
    clear_caches()
    parts = split_thread(text)
    assert all(parse_tweet(part).weightedLength <= 280 for part in parts)
    spans = cut_positions(text, parts)
    clusters = {0} | {match.end() for match in GRAPHEME.finditer(text)}
    budget = 280 - len(f" {len(parts)}/{len(parts)}")
    entities = [tuple(url["indices"]) for url in extract_urls_with_indices(text)] + [
        match.span()
        for pattern in (_MENTION, _HASHTAG, _CASHTAG)
        for match in pattern.finditer(text)
        # (a hashtag glued longer than a post has to be cut somewhere)
        if parse_tweet(match.group()).weightedLength <= budget
    ]
    for cut in (position for span in spans for position in span):
        assert cut in clusters
        assert not any(start < cut < end for start, end in entities)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if text[end:start].strip() != text[end:start] or CJK_SENTENCE_END.search(text[:end]):
            continue  # a cut at whitespace, or at a CJK sentence end
        word_start = max(text.rfind(c, 0, end) for c in " \n") + 1
        word_end = min(
            (i for i in (text.find(c, start) for c in " \n") if i >= 0), default=len(text)
        )
        assert parse_tweet(text[word_start:word_end]).weightedLength > budget


def test_a_list_that_fits_stays_one_post_line_by_line() -> None:
    """ "Five tips:\\n- one\\n- two" is one post, line breaks and all, unnumbered."""
    assert split_thread("Five tips:\n- one\n- two") == ["Five tips:\n- one\n- two"]


def test_a_long_list_is_cut_between_items_and_keeps_its_lines() -> None:
    """A list over one post is cut at line breaks; inside a part the items stay on their
    own lines."""
    items = [f"- tip {n}: keep each step small enough to review in one sitting" for n in range(8)]
    parts = split_thread("Eight tips:\n" + "\n".join(items))
    assert len(parts) == 2
    assert parts[0].startswith("Eight tips:\n- tip 0:")
    for part in parts:
        body = part.rsplit(" ", 1)[0]
        assert all(line.startswith(("Eight tips:", "- tip ")) for line in body.split("\n"))


def test_paragraphs_then_lines_then_sentences_then_words() -> None:
    """Each cut takes the strongest break that leaves the post at least half full."""
    sentence = "This sentence has exactly enough words to be a sentence. "
    paragraph = (sentence * 3).strip()
    parts = split_thread(f"{paragraph}\n\n{paragraph}\n\n{paragraph}")
    assert [part.rsplit(" ", 1)[0] for part in parts] == [paragraph] * 3
    lines = "\n".join([paragraph] * 3)
    assert [part.rsplit(" ", 1)[0] for part in split_thread(lines)] == [paragraph] * 3
    sentences = sentence * 12
    first = split_thread(sentences)[0].rsplit(" ", 1)[0]
    assert first.endswith("a sentence.")
    words = "word " * 100
    assert split_thread(words)[0] == ("word " * 55).strip() + " 1/2"


def test_a_short_opening_line_does_not_make_a_post_alone() -> None:
    """A break that would leave a post nearly empty is passed over for a later one."""
    text = "Hi.\n" + "then a long run of words without any stop " * 10
    first = split_thread(text)[0]
    assert first.startswith("Hi.\nthen a long run") and len(first) > 200


def test_cjk_sentences_end_posts_without_spaces() -> None:
    """Chinese and Japanese text is cut after their full stops and question marks (no space
    needed), never mid-sentence."""
    sentence = "これは日本語の文です\u3002"
    parts = split_thread(sentence * 40)
    for part in parts:
        assert part.rsplit(" ", 1)[0].endswith("\u3002")
    assert "".join(part.rsplit(" ", 1)[0] for part in parts) == sentence * 40
    question = "你今天想做什么\uff1f"
    assert all(p.rsplit(" ", 1)[0].endswith("\uff1f") for p in split_thread(question * 60))


def test_links_and_emoji_sequences_are_never_cut() -> None:
    """A link glued to CJK text, a family emoji and a flag each stay whole in one post."""
    url = "https://example.com/a/very/long/path/that/should/stay/together"
    text = "日" * 120 + url + "日" * 120
    assert any(url in part for part in split_thread(text))
    emoji = (FAMILY + FLAG + ENGLAND) * 60
    parts = split_thread(emoji)
    assert "".join(part.rsplit(" ", 1)[0] for part in parts) == emoji
    for part in parts:
        body = part.rsplit(" ", 1)[0]
        assert GRAPHEME.findall(body) == [FAMILY, FLAG, ENGLAND] * (
            len(GRAPHEME.findall(body)) // 3
        )


def test_mentions_hashtags_and_cashtags_stay_whole() -> None:
    """Entities glued into a word longer than a post are never cut in two."""
    for entity in ("@some_account", "#launchday", "#日本語タグ"):
        text = ("日" * 60 + entity) * 8
        for part in split_thread(text):
            body = part.rsplit(" ", 1)[0]
            assert not body.endswith(entity[:4]) or body.endswith(entity)


def test_a_word_is_cut_only_when_longer_than_a_post() -> None:
    """700 x's are cut inside (nothing else can be done); words never are."""
    parts = split_thread("x" * 700)
    assert [len(part.rsplit(" ", 1)[0]) for part in parts] == [276, 276, 148]
    for part in split_thread("antidisestablishmentarianism " * 30):
        assert all(word == "antidisestablishmentarianism" for word in part.split()[:-1])


def test_explicit_breaks_and_numbering() -> None:
    """`---` lines make the parts; they are numbered n/N; one part without breaks is not."""
    assert split_thread("First part\n---\nSecond part\n  ---  \nThird") == [
        "First part 1/3",
        "Second part 2/3",
        "Third 3/3",
    ]
    assert split_thread("Just one post") == ["Just one post"]
    parts = split_thread("word " * 700)
    assert len(parts) == 13
    assert parts[9].endswith(" 10/13") and parts[12].endswith(" 13/13")
    assert all(parse_tweet(part).weightedLength <= 280 for part in parts)


def test_a_thread_of_too_many_parts_is_refused() -> None:
    """More than MAX_PARTS posts: the measurement says how many, at most how many."""
    measured = measure_draft("x", "word " * 1500, thread=True)
    assert measured.parts == 28
    assert measured.problems == (f"28 posts, at most {MAX_PARTS} in a thread",)


def test_a_thread_far_over_any_thread_is_refused_without_splitting() -> None:
    """A text no 25-post thread could hold is refused by the pre-check, with its bound."""
    measured = measure_draft("x", "日本語 " * 3000, thread=True)
    assert measured.parts == 0
    assert measured.problems[0].startswith("at least 18000 characters")
    assert "more than a thread of 25 posts can hold" in measured.problems[0]


def test_a_cluster_longer_than_a_post_is_named_not_split() -> None:
    """One letter with 300 accents can't be cut: the thread says which post is over (X
    counts it after NFC: the first accent composes with the e)."""
    measured = measure_draft("x", "Intro.\n---\ne" + "\u0301" * 300, thread=True)
    assert measured.problems == (
        "post 2 is 304/280 characters, over the limit "
        "(X's weighted count: links count 23, emoji and CJK characters 2)",
    )


def test_refused_characters_in_a_thread_are_named() -> None:
    """A thread holding U+FFFF breaks X's rules like a single post does."""
    measured = measure_draft("x", "First\n---\nSecond\uffff", thread=True)
    assert measured.problems == ("contains U+FFFF, a character X refuses: remove it",)


def test_a_thread_measures_each_part_and_counts_the_whole() -> None:
    """A valid thread: no problems, its parts counted, its whole text's length."""
    measured = measure_draft("x", "word " * 100, thread=True)
    assert measured.within_limit and measured.parts == 2 and measured.length == 500
