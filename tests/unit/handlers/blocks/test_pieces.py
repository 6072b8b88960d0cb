"""Long text in pieces for Slack's 3000-character sections and boxes: nothing lost."""

from __future__ import annotations

import regex
from hypothesis import given
from hypothesis import strategies as st

from handlers.blocks.pieces import Piece, cut

# Words, spaces, line and paragraph breaks, emoji sequences, flags and combining accents.
long_text = st.lists(
    st.sampled_from(
        ["word", "x" * 17, " ", "  ", "\n", "\n\n", "👨‍👩‍👧", "🇫🇷", "e\u0301", "日本", "\t"]
    ),
    max_size=60,
).map("".join)

# Glued text (no whitespace at all), so every cut falls inside it.
glued_text = st.lists(
    st.sampled_from(["ab", "👨‍👩‍👧", "🇫🇷🇩🇪", "e\u0301", "日本", "👍🏽"]), max_size=40
).map("".join)


def _grapheme_ends(text: str) -> set[int]:
    return {found.end() for found in regex.finditer(r"\X", text)}


@given(long_text, st.integers(min_value=1, max_value=40))
def test_pieces_join_back_to_the_text(text: str, limit: int) -> None:
    """Pieces and their gaps give the (stripped) text back exactly; each piece holds at most
    `limit` characters and no whitespace at its ends."""
    pieces = cut(text, limit)
    assert "".join(piece.text + piece.gap for piece in pieces) == text.strip()
    for piece in pieces:
        assert 0 < len(piece.text) <= limit
        assert piece.text == piece.text.strip()
        assert piece.gap.strip() == ""
    assert pieces[-1].gap == "" if pieces else text.strip() == ""


@given(st.one_of(glued_text, long_text), st.integers(min_value=8, max_value=40))
def test_cuts_inside_words_fall_between_graphemes(text: str, limit: int) -> None:
    """A cut with no whitespace to fall on is made between two grapheme clusters."""
    stripped = text.strip()
    ends = _grapheme_ends(stripped)
    position = 0
    for piece in cut(text, limit)[:-1]:
        position += len(piece.text)
        if not piece.gap:
            assert position in ends
        position += len(piece.gap)


def test_paragraph_then_line_then_word_breaks_are_preferred() -> None:
    """A piece ends at a paragraph break when there is one in its second half, else at a line
    break, else at the last space."""
    assert cut("aaaa bbbb\n\ncccc dd", 14)[0] == Piece("aaaa bbbb", "\n\n")
    assert cut("aaaa bbbb\ncccc dd", 14)[0] == Piece("aaaa bbbb", "\n")
    assert cut("aaaa bbbb cccc dd", 14)[0] == Piece("aaaa bbbb cccc", " ")
    assert cut("a" * 20, 8) == [Piece("a" * 8), Piece("a" * 8), Piece("a" * 4)]
