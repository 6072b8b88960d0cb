"""The "too close" rule: reworded ideas are duplicates, different ideas on one theme are not."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ideas.similarity import TOO_CLOSE, closeness, content_words, too_close
from storage.models import Seen

# Titles a person would call the same idea, reworded (the scores are 83..100).
REWORDED = [
    ("5 tips for faster code reviews", "Five tips to speed up code reviews"),
    ("Why we moved our CI to ARM runners", "Moving our CI to ARM runners: why"),
    ("Behind the scenes: our on-call rotation", "Behind the scenes of our on-call rotation"),
    ("How we cut our cloud bill by 30%", "How we cut our cloud bill by a third"),
    ("Meet the team: our new support engineers", "Meet our new support engineers"),
    ("Lessons from our first hackathon", "Our first hackathon: lessons learned"),
    ("The case for boring technology", "The case for choosing boring technology"),
    ("Café culture at the Zürich office", "cafe culture at the zurich office!"),
]
# Different ideas on a shared theme or with a shared frame (the scores are 22..75).
DIFFERENT = [
    ("5 tips for faster code reviews", "How we onboard new engineers"),
    ("5 tips for faster code reviews", "5 tips for faster onboarding"),
    ("Why we moved our CI to ARM runners", "What ARM runners cost us in the first month"),
    ("Behind the scenes: our on-call rotation", "Behind the scenes: our design process"),
    ("How we cut our cloud bill by 30%", "How we cut onboarding time in half"),
    ("Meet the team: our new support engineers", "Meet the team: our data scientists"),
    ("Lessons from our first hackathon", "Lessons from a failed product launch"),
    ("The case for boring technology", "The case for writing design docs"),
    ("Our roadmap for Q3", "Our hiring plans for Q3"),
]


@pytest.mark.parametrize(("first", "second"), REWORDED)
def test_reworded_titles_are_too_close(first: str, second: str) -> None:
    """A reworded title scores at or above the threshold (the gap's upper side)."""
    assert closeness(first, second) >= TOO_CLOSE


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_different_ideas_on_one_theme_are_not(first: str, second: str) -> None:
    """A different idea sharing a theme or a frame scores below the threshold."""
    assert closeness(first, second) < TOO_CLOSE


def test_the_threshold_sits_in_the_measured_gap() -> None:
    """Every reworded pair scores above every different pair, and 80 lies between them with
    a margin on each side."""
    lowest_same = min(closeness(a, b) for a, b in REWORDED)
    highest_different = max(closeness(a, b) for a, b in DIFFERENT)
    assert highest_different + 3 <= TOO_CLOSE <= lowest_same - 3


def test_descriptions_are_compared_too() -> None:
    """A new title over a description that repeats an old idea's is still the old idea; a
    post brief (no title) counts like an idea."""
    old = Seen(
        title="Our CI story",
        text="Explain why we moved CI to ARM runners and what it did to build times and cost.",
    )
    assert too_close(
        "ARM runners, one year on",
        "Tell the story of our CI move to ARM runners: build times and the cost.",
        old,
    )
    brief = Seen(text="Announce that our CI moved to ARM runners, builds are 30% faster")
    assert too_close("We moved CI to ARM runners", "Builds are faster now.", brief)
    assert not too_close(
        "Meet our data scientists",
        "Introduce our data scientists and the questions they answer for customers.",
        Seen(title="Meet our support engineers", text="Introduce the new support engineers."),
    )


def test_text_without_content_words_is_close_to_nothing() -> None:
    """Only common words (or none) can't make an idea a duplicate."""
    assert content_words("How is it, and why?") == []
    assert closeness("How is it, and why?", "How is it, and why?") == 0
    assert closeness("", "anything") == 0


def test_one_word_is_not_a_subset_of_everything() -> None:
    """A one-word title is compared as a word, not as a subset of a longer title."""
    assert closeness("Hiring", "Hiring for the data platform team in Berlin") < TOO_CLOSE
    assert closeness("Hiring", "hiring!") == 100


words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=9),
    min_size=2,
    max_size=8,
    unique=True,
)


@settings(deadline=None)
@given(words=words, shuffle=st.randoms(use_true_random=False))
def test_case_punctuation_and_order_do_not_make_a_new_idea(
    words: list[str], shuffle: random.Random
) -> None:
    """Any title, re-cased, re-punctuated and reordered, is too close to itself."""
    title = " ".join(words)
    changed = list(words)
    shuffle.shuffle(changed)
    variant = ": ".join(word.upper() for word in changed) + "!"
    assert closeness(title, variant) == 100
    assert too_close(variant, "", Seen(title=title, text=""))


@settings(deadline=None)
@given(first=st.text(max_size=80), second=st.text(max_size=80))
def test_closeness_is_symmetric_and_bounded(first: str, second: str) -> None:
    """closeness(a, b) == closeness(b, a), within 0..100."""
    score = closeness(first, second)
    assert score == closeness(second, first)
    assert 0 <= score <= 100
