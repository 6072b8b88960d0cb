"""Prompt templates, loaded from the package's `.md` files with importlib.resources.

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
_DATA_TAGS = re.compile(r"</?\s*(brief|feedback|previous_draft|brand_voice)\s*>", re.IGNORECASE)


@cache
def template(name: str) -> Template:
    """The template `prompts/<name>.md`."""
    text = resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    return Template(text.strip())


def as_data(text: str) -> str:
    """User text made safe to place between data tags."""
    return _DATA_TAGS.sub(lambda match: f"[{match.group(1).lower()}]", text.strip())


def system_prompt(brand_voice: str | None) -> str:
    """The system prompt, with the brand voice when one is configured."""
    voice = ""
    if brand_voice:
        voice = template("brand_voice").substitute(brand_voice=as_data(brand_voice))
    return template("system").substitute(brand_voice=voice).strip()


def task_prompt(
    platform: str,
    brief: str,
    *,
    tone: str | None,
    limit: int,
    thread: bool = False,
    max_hashtags: int = 30,
) -> str:
    """The request for one post on `platform` (`x`, `linkedin`, `instagram`)."""
    name = "x_thread" if platform == "x" and thread else platform
    return template(name).substitute(
        brief=as_data(brief),
        tone=as_data(tone) if tone else DEFAULT_TONE,
        limit=limit,
        max_hashtags=max_hashtags,
    )


def reprompt(platform_name: str, *, length: int, limit: int, rule: str) -> str:
    """Ask for a shorter version after a draft measured over the limit."""
    return template("reprompt").substitute(
        platform=platform_name, length=length, limit=limit, rule=rule
    )


def regenerate(previous: str, feedback: str | None) -> str:
    """Ask for a new version, with the reviewer's feedback."""
    return template("regenerate").substitute(
        previous=as_data(previous),
        feedback=as_data(feedback) if feedback else "No specific feedback: try a fresh angle.",
    )
