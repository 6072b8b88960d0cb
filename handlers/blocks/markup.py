"""Slack mrkdwn, built so that text from outside the bot can't turn into markup.

Slack reads mrkdwn in section and context text and in a message's `text` (what notifications
show): `<!channel>` notifies a whole channel, `<@U...>` a person, `<https://evil|bank login>`
shows a disguised link. Drafts, briefs, failure reasons and model names come from people, LLMs
and platforms, so each of them is escaped (`&`, `<`, `>`, as Slack asks) wherever it is put;
the bot's own mentions and links are built on purpose, as `User`, `Channel` and `Link`.

`md(template, **values)` is how mrkdwn is made: the template holds the bot's own words, and
every value is escaped unless it is `Mrkdwn` already or one of those references. The block
builders take `Mrkdwn` only, so mypy finds an f-string that went around `md`. Text cut to fit
Slack's limits is cut between whole characters, entities and mentions (`fit`, `clip`), and says
how much is not shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, LiteralString

_USER_ID = re.compile(r"[UWB][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
_LINKABLE = re.compile(r"https?://[^\s<>|]+", re.IGNORECASE)
# One thing a reader sees: a mention or link, an entity, or a character.
_ATOM = re.compile(r"<[^<>]*>|&(?:amp|lt|gt);|.", re.DOTALL)


class Mrkdwn(str):
    """Text that is safe to hand Slack as mrkdwn: made by `md`, `escape`, `join` or `fit`."""

    __slots__ = ()


def escape(text: str) -> Mrkdwn:
    """Outside text made inert inside mrkdwn: no mentions, links or @channel pings."""
    return Mrkdwn(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


@dataclass(frozen=True)
class _Mention:
    id: str | None
    sigil: ClassVar[str]
    pattern: ClassVar[re.Pattern[str]]
    unknown: ClassVar[str]

    def render(self) -> Mrkdwn:
        """The mention; anything that isn't an id of its kind is shown as text, not markup."""
        if self.id and self.pattern.fullmatch(self.id):
            return Mrkdwn(f"<{self.sigil}{self.id}>")
        return escape(self.id or self.unknown)


def is_slack_user(user_id: str | None) -> bool:
    """Whether `user_id` is a Slack user's id (not, say, an API key's requester)."""
    return bool(user_id) and _USER_ID.fullmatch(user_id or "") is not None


class User(_Mention):
    """A mention of a Slack user the bot means to name (requester, approver, editor)."""

    sigil = "@"
    pattern = _USER_ID
    unknown = "someone"


class Channel(_Mention):
    """A link to a Slack channel the bot means to name (the approval channel)."""

    sigil = "#"
    pattern = _CHANNEL_ID
    unknown = "the approval channel"


@dataclass(frozen=True)
class Link:
    """A link the bot builds (to a published post): the label is the bot's, the URL checked."""

    url: str | None
    label: str

    def render(self) -> Mrkdwn:
        """`<url|label>` for an http(s) URL without spaces or markup; otherwise the label."""
        if self.url and _LINKABLE.fullmatch(self.url):
            return Mrkdwn(f"<{escape(self.url)}|{escape(self.label)}>")
        return escape(self.label)


def _render(value: object) -> object:
    if isinstance(value, Mrkdwn):
        return value
    if isinstance(value, _Mention | Link):
        return value.render()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value  # numbers keep their format specs ("{n:,}")
    return escape(str(value))


def md(template: LiteralString, /, **values: object) -> Mrkdwn:
    """The template (the bot's own words and markup) with every value escaped into it.

    Values that are `Mrkdwn`, `User`, `Channel` or `Link` go in as markup; numbers keep their
    format; anything else is escaped.
    """
    return Mrkdwn(template.format_map({name: _render(v) for name, v in values.items()}))


def join(separator: LiteralString, parts: Iterable[Mrkdwn]) -> Mrkdwn:
    """Pieces of mrkdwn joined by the bot's own separator."""
    return Mrkdwn(separator.join(parts))


def _not_shown(count: int) -> Mrkdwn:
    return md("… ({count:,} more characters not shown)", count=count)


def clip(text: str, limit: int) -> Mrkdwn:
    """Outside text escaped, showing at most `limit` of its characters and saying how many more
    there are."""
    if len(text) <= limit:
        return escape(text)
    return Mrkdwn(escape(text[:limit]) + _not_shown(len(text) - limit))


def fit(text: Mrkdwn, limit: int) -> Mrkdwn:
    """`text` within `limit` characters, cut between whole mentions, entities and characters,
    with what is not shown said at the end."""
    if len(text) <= limit:
        return text
    atoms = _ATOM.findall(text)
    kept: list[str] = []
    used = 0
    for index, atom in enumerate(atoms):
        note = _not_shown(len(atoms) - index)
        if used + len(atom) + len(note) > limit:
            return Mrkdwn("".join(kept) + note)
        kept.append(atom)
        used += len(atom)
    return text


def _below(text: Mrkdwn, line: Mrkdwn) -> Mrkdwn:
    return Mrkdwn(f"{text}\n{line}" if text else line)


def lines_within(
    head: Mrkdwn,
    lines: Sequence[Mrkdwn],
    limit: int,
    more: Callable[[int], Mrkdwn],
    *,
    unlisted: int = 0,
) -> Mrkdwn:
    """`head`, then as many whole `lines` as fit in `limit` characters, one per line.

    When some lines don't fit, or `unlisted` more were never given, the last line is
    `more(how_many_not_shown)`.
    """
    text = head
    for index, line in enumerate(lines):
        left = len(lines) - index - 1 + unlisted
        candidate = _below(text, line)
        if len(candidate) + (len(more(left)) + 1 if left else 0) > limit:
            return fit(_below(text, more(len(lines) - index + unlisted)), limit)
        text = candidate
    if unlisted:
        text = _below(text, more(unlisted))
    return fit(text, limit)
