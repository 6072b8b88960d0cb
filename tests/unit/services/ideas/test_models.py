"""Reading the LLM's answer into ideas: lenient about wrapping, strict about content."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.errors import MalformedIdeas
from services.ideas.models import DESCRIPTION_MAX, TITLE_MAX, Idea, parse_ideas


def test_the_asked_shape_is_read() -> None:
    """`{"ideas": [...]}` gives ideas with title, description and category, trimmed."""
    ideas = parse_ideas(
        '{"ideas": [{"title": " Lessons  from\\nour hackathon ", "description": "What we '
        'learned.", "category": "story"}, {"title": "Q3 roadmap", "description": "Share it."}]}'
    )
    assert ideas == [
        Idea(title="Lessons from our hackathon", description="What we learned.", category="story"),
        Idea(title="Q3 roadmap", description="Share it.", category=None),
    ]
    assert ideas[0].brief() == "Lessons from our hackathon\n\nWhat we learned."


@pytest.mark.parametrize(
    "wrapped",
    [
        '```json\n{"ideas": [{"title": "T", "description": "D"}]}\n```',
        'Here are your ideas:\n{"ideas": [{"title": "T", "description": "D"}]}\nEnjoy!',
        '[{"title": "T", "description": "D", "extra": 1}]',
    ],
)
def test_harmless_habits_are_tolerated(wrapped: str) -> None:
    """A code fence, a sentence around the JSON, a bare list or an extra key still read."""
    assert parse_ideas(wrapped) == [Idea(title="T", description="D")]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("Sure! Here are three ideas: 1. Tips 2. Story", "holds no JSON"),
        ('{"ideas": [{"title": "T", "des', "cut off"),
        ('{"ideas": [{"title": "T", "description": "D"}', "does not parse"),
        ('{"ideas": [{"title": "T" "description": "D"}]}', "does not parse"),
        ('{"ideas": []}', "empty"),
        ('{"ideas": [{"title": "", "description": "D"}]}', "ideas.0.title"),
        ('{"ideas": [{"title": "T"}]}', "ideas.0.description"),
        ('{"posts": [{"title": "T", "description": "D"}]}', "ideas"),
        ('{"ideas": ["just a title"]}', "ideas.0"),
        (json.dumps({"ideas": [{"title": "T" * (TITLE_MAX + 1), "description": "D"}]}), "title"),
        (
            json.dumps({"ideas": [{"title": "T", "description": "D" * (DESCRIPTION_MAX + 1)}]}),
            "description",
        ),
    ],
)
def test_malformed_answers_say_what_is_wrong(answer: str, says: str) -> None:
    """An answer that is not a list of complete ideas is `MalformedIdeas` naming the problem
    (the words the re-ask quotes)."""
    with pytest.raises(MalformedIdeas, match=says):
        parse_ideas(answer)


titles = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1).filter(
    lambda t: 0 < len(" ".join(t.split())) <= TITLE_MAX
)
descriptions = st.text(min_size=1, max_size=DESCRIPTION_MAX).filter(lambda d: d.strip())
ideas_lists = st.lists(st.builds(Idea, title=titles, description=descriptions), min_size=1)


@settings(deadline=None)
@given(ideas=ideas_lists, fence=st.booleans(), preamble=st.sampled_from(["", "Ideas:\n"]))
def test_any_valid_ideas_round_trip(ideas: list[Idea], fence: bool, preamble: str) -> None:
    """Whatever valid ideas the LLM serialises (any text, quotes, braces, emoji inside),
    wrapped or not, they are read back exactly."""
    payload = json.dumps({"ideas": [idea.model_dump() for idea in ideas]}, ensure_ascii=False)
    answer = preamble + (f"```json\n{payload}\n```" if fence else payload)
    assert parse_ideas(answer) == ideas
