"""What Slack would read as markup in the bot's output, for tests that feed it hostile text.

Slack parses mrkdwn text objects and a message's top-level `text`: there `<...>` is a mention, a
channel link, a special mention (`<!channel>`) or a link, and `&amp;`, `&lt;`, `&gt;` are the only
entities. `markup_problems` lists every `<...>` that isn't one of the mentions and links the test
allows, and every `<`, `>` or `&` left raw.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterator
from typing import Any

# Strings a draft, a brief, a failure reason or a model name may carry to attack the bot.
HOSTILE = "<!channel> <!here> <@U1> <https://evil.example|bank login> <#C1> & more"

_SEQUENCE = re.compile(r"<([^<>]*)>")
_RAW_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")
# The bot's own date tokens (`handlers.blocks.times`): a moment, shown in the reader's zone.
_DATE_TOKEN = re.compile(r"!date\^\d+\^\{date_short_pretty\} at \{time\}\|[0-9: -]+UTC")


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every mrkdwn text object's text in blocks (or any JSON holding blocks)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def message_texts(message: dict[str, Any]) -> list[str]:
    """What Slack reads as mrkdwn in a message payload: its `text` and its blocks' mrkdwn."""
    texts = [message["text"]] if isinstance(message.get("text"), str) else []
    return texts + list(mrkdwn_texts(message.get("blocks") or []))


def markup_problems(
    text: str,
    *,
    users: Collection[str] = (),
    channels: Collection[str] = (),
    urls: Collection[str] = (),
) -> list[str]:
    """Markup in `text` other than mentions of `users`, links to `channels` and links to `urls`."""
    problems = []
    for found in _SEQUENCE.finditer(text):
        inner = found.group(1)
        if _DATE_TOKEN.fullmatch(inner):
            continue
        if inner[:1] == "@" and inner[1:] in users:
            continue
        if inner[:1] == "#" and inner[1:] in channels:
            continue
        if inner[:1] not in "@#!" and html.unescape(inner.split("|", 1)[0]) in urls:
            continue
        problems.append(found.group(0))
    rest = _SEQUENCE.sub("", text)
    problems += [f"raw {char!r}" for char in "<>" if char in rest]
    if _RAW_AMPERSAND.search(rest):
        problems.append("raw '&'")
    return problems


def unescaped(
    texts: Collection[str],
    *,
    users: Collection[str] = (),
    channels: Collection[str] = (),
    urls: Collection[str] = (),
) -> dict[str, list[str]]:
    """Each text with markup problems, and its problems (empty when every text is safe)."""
    found = {
        text: markup_problems(text, users=users, channels=channels, urls=urls) for text in texts
    }
    return {text: problems for text, problems in found.items() if problems}
