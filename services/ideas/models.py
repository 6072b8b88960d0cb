"""What an idea is, and how the LLM's answer is read into ideas.

The ideas prompt (prompts/ideas*.md) asks for JSON: `{"ideas": [{"title": ..., "description":
..., "category": ...}]}`. The answer is read leniently where a model's habits are harmless (a
Markdown code fence around it, a sentence before it, a bare list without the "ideas" key) and
strictly where they are not: every idea needs a title and a description within the limits
below, or the whole answer is malformed and asked again (once).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.errors import MalformedIdeas

TITLE_MAX = 150
DESCRIPTION_MAX = 1500
"""Leaves room in the 2000-character brief for the title above it."""
CATEGORY_MAX = 50


class Idea(BaseModel):
    """One proposed post: a short title (shown on the card), what the post should say (the
    brief it is drafted from) and an optional category."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    category: str | None = Field(None, max_length=CATEGORY_MAX)

    @field_validator("title", "category", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:
        return " ".join(value.split()) if isinstance(value, str) else value

    @field_validator("category")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    def brief(self) -> str:
        """The brief the idea is drafted from: its title, then its description."""
        return f"{self.title}\n\n{self.description}"


class _Answer(BaseModel):
    ideas: list[Idea]


def _json_part(text: str) -> str:
    """The JSON in `text`: from the first `{` or `[` to the matching last `}` or `]`."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise MalformedIdeas("the answer holds no JSON; answer with the JSON object only")
    start = min(starts)
    end = text.rfind("}" if text[start] == "{" else "]")
    if end < start:
        raise MalformedIdeas("the JSON is cut off; answer with the complete JSON object")
    return text[start : end + 1]


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the answer"
    return f"{where}: {first['msg']}"


def parse_ideas(text: str) -> list[Idea]:
    """The ideas in the LLM's answer `text`, or `MalformedIdeas` saying what is wrong."""
    try:
        document = json.loads(_json_part(text))
    except json.JSONDecodeError as exc:
        raise MalformedIdeas(f"the JSON does not parse ({exc.msg} at {exc.pos})") from None
    if isinstance(document, list):
        document = {"ideas": document}
    try:
        ideas = _Answer.model_validate(document).ideas
    except ValidationError as exc:
        raise MalformedIdeas(
            f'expected {{"ideas": [{{"title": ..., "description": ...}}]}}; {_describe(exc)}'
        ) from None
    if not ideas:
        raise MalformedIdeas("the list of ideas is empty")
    return ideas
