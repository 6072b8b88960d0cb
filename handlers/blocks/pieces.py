"""Long text in pieces Slack can hold (a section or an input box takes 3000 characters).

Nothing is lost: a piece ends at a paragraph break, else a line break, else a space, and only
inside a word when no space is left, then between two grapheme clusters (an emoji, a flag or a
letter with its accents stays whole). The whitespace a cut falls on is kept beside the piece,
so joining the pieces with their gaps gives the text back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

_GAP = re.compile(r"\s+")
_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class Piece:
    """Part of a text, and the whitespace that followed it there ('' after the last piece or a
    cut inside a word)."""

    text: str
    gap: str = ""


def _cut_point(text: str, limit: int) -> tuple[int, int]:
    """Where the first piece of `text` (stripped, longer than `limit`) ends, and where the
    next one starts."""
    gaps: list[tuple[int, int]] = []
    for found in _GAP.finditer(text, 1):
        if found.start() > limit:
            break
        gaps.append(found.span())
    half = limit // 2
    for breaks in (2, 1):
        late = [gap for gap in gaps if gap[0] >= half and text.count("\n", *gap) >= breaks]
        if late:
            return late[-1]
    if gaps:
        return gaps[-1]
    end = 0
    for grapheme in _GRAPHEME.finditer(text, 0, limit + 1):
        if grapheme.end() > limit:
            break
        end = grapheme.end()
    cut = end or limit  # one grapheme longer than a piece: nothing gentler is left
    return cut, cut


def cut(text: str, limit: int) -> list[Piece]:
    """`text` without its outer whitespace, in pieces of at most `limit` characters.

    `"".join(p.text + p.gap for p in pieces) == text.strip()`; no piece starts or ends with
    whitespace, so a box that trims what it is given loses nothing.
    """
    rest = text.strip()
    pieces: list[Piece] = []
    while len(rest) > limit:
        end, start = _cut_point(rest, limit)
        pieces.append(Piece(rest[:end], rest[end:start]))
        rest = rest[start:]
    if rest:
        pieces.append(Piece(rest))
    return pieces
