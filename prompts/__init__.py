"""Prompt templates, loaded from the package's `.md` files with importlib.resources.

A platform's task prompt is `<slug>.md` (`<slug>_thread.md` for a thread) when the package has
one, else the generic `platform.md` (`platform_thread.md`), which takes everything it needs
from the platform's descriptor: a new platform needs no prompt file of its own.

Templates use `string.Template` placeholders (`$brief`, `$tone`, ...). User-supplied text (the
brief, feedback, a previous draft) is inserted between tags such as `<brief>` and `</brief>`;
any copy of those tags inside the text is defused first, so a brief can't close its own block
and pose as instructions.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

DEFAULT_TONE = "friendly and clear"
_DATA_TAGS = re.compile(
    r"</?\s*(brief|feedback|previous_draft|brand_voice|topics|topic|avoid)\s*>", re.IGNORECASE
)


@cache
def template(name: str) -> Template:
    """The template `prompts/<name>.md`."""
    text = resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    return Template(text.strip())


@cache
def has_template(name: str) -> bool:
    """Whether `prompts/<name>.md` exists."""
    return resources.files(__name__).joinpath(f"{name}.md").is_file()


def as_data(text: str) -> str:
    """User text made safe to place between data tags."""
    return _DATA_TAGS.sub(lambda match: f"[{match.group(1).lower()}]", text.strip())


def system_prompt(brand_voice: str | None, *, name: str = "system") -> str:
    """The system prompt `prompts/<name>.md`, with the brand voice when one is configured."""
    voice = ""
    if brand_voice:
        voice = template("brand_voice").substitute(brand_voice=as_data(brand_voice))
    return template(name).substitute(brand_voice=voice).strip()


def task_prompt(
    platform: str,
    brief: str,
    *,
    name: str,
    tone: str | None,
    limit: int,
    rule: str = "characters",
    thread: bool = False,
    max_hashtags: int | None = None,
) -> str:
    """The request for one post (or a thread) on the platform with slug `platform`, named
    `name`, that takes `limit` characters counted by `rule`."""
    kind = "_thread" if thread else ""
    own = f"{platform}{kind}"
    hashtags = (
        f"At most {max_hashtags} hashtags, only if they help."
        if max_hashtags is not None
        else "Hashtags only if they help."
    )
    return template(own if has_template(own) else f"platform{kind}").substitute(
        brief=as_data(brief),
        tone=as_data(tone) if tone else DEFAULT_TONE,
        limit=limit,
        platform=name,
        rule=rule,
        max_hashtags=max_hashtags if max_hashtags is not None else "",
        hashtags=hashtags,
    )


def reprompt(platform_name: str, *, length: int, limit: int, rule: str) -> str:
    """Ask for a shorter version after a draft measured over the limit."""
    return template("reprompt").substitute(
        platform=platform_name, length=length, limit=limit, rule=rule
    )


def policy_reprompt(problems: str, *, allowed_domains: tuple[str, ...] | None) -> str:
    """Ask once for a version without what the content policy found (`problems`, in plain
    words)."""
    links = ""
    if allowed_domains is not None:
        listed = ", ".join(allowed_domains) or "none"
        links = " " + template("policy_links").substitute(domains=listed).strip()
    return template("policy").substitute(problems=problems, links=links).strip()


def regenerate(previous: str, feedback: str | None) -> str:
    """Ask for a new version, with the reviewer's feedback."""
    return template("regenerate").substitute(
        previous=as_data(previous),
        feedback=as_data(feedback) if feedback else "No specific feedback: try a fresh angle.",
    )


NO_TOPICS = "Anything the team's followers would find useful: its work, its lessons, its news."
NOTHING_TO_AVOID = "(none yet)"


def ideas_system(brand_voice: str | None) -> str:
    """The system prompt for proposing ideas, with the brand voice when one is configured."""
    return system_prompt(brand_voice, name="ideas_system")


def ideas_request(
    count: int,
    *,
    platforms: str,
    today: str,
    topics: str | None,
    topic: str | None,
    avoid: list[str],
) -> str:
    """Ask for `count` ideas about `topics` (a `topic` to focus on this time), none like the
    recent ones in `avoid` (one line each)."""
    focus = template("ideas_focus").substitute(topic=as_data(topic)) if topic else ""
    return template("ideas").substitute(
        count=count,
        platforms=platforms,
        today=today,
        topics=as_data(topics) if topics else NO_TOPICS,
        focus=f"\n{focus}\n" if focus else "",
        avoid=_lines(avoid) or NOTHING_TO_AVOID,
    )


def ideas_again(count: int, dropped: list[str]) -> str:
    """Ask once more, for `count` ideas unlike the ones `dropped` as too close."""
    return template("ideas_again").substitute(count=count, dropped=_lines(dropped))


def ideas_malformed(count: int, problem: str) -> str:
    """Ask once more after an answer that was not the JSON asked for."""
    return template("ideas_malformed").substitute(count=count, problem=problem)


def _lines(items: list[str]) -> str:
    return "\n".join(f"- {as_data(' '.join(item.split()))}" for item in items)
