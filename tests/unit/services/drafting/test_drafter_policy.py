"""Drafting against the content policy: one re-prompt naming the problem, every call kept for
the cost log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.checks import ContentPolicy
from services.drafting.drafter import Drafter
from services.drafting.llm import LLMClient
from services.models import Deployment
from tests.support.emulators.llm import FakeLLM

POLICY = ContentPolicy(blocked_terms=("crypto",), allowed_domains=("example.com",))
BAD = "Crypto news: read it at example.net"
GOOD = "Our release notes are at example.com"
LONG_AND_BAD = "Crypto is here. " * 30


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    """An OpenAI-compatible fake provider."""
    async with FakeLLM("openai") as server:
        yield server


def drafter(fake: FakeLLM) -> Drafter:
    """A drafter over the fake (gpt-4o-mini, so litellm prices it), with POLICY."""
    llm = LLMClient(
        [
            Deployment(
                name="only",
                model="openai/gpt-4o-mini",
                params={"api_base": f"{fake.url}/v1", "api_key": "sk-a"},
            )
        ],
        timeout=3,
        cooldown=30,
    )
    return Drafter(llm, brand_voice=None, policy=POLICY)


async def test_a_policy_breaking_draft_is_re_prompted_once_naming_the_problem(
    fake: FakeLLM,
) -> None:
    """The second request names the blocked term, the link and the allowed domains; the
    clean answer is the draft, with both calls kept."""
    fake.queue_replies(BAD, GOOD)
    draft = await drafter(fake).draft("linkedin", "Announce the notes")
    assert draft.text == GOOD and draft.findings == () and draft.reprompts == 1
    asked = fake.requests[1].user_text
    assert "contains the blocked term “crypto”" in asked
    assert "links to example.net, which is not allowed" in asked
    assert "example.com" in asked
    assert [call.text for call in draft.calls] == [BAD, GOOD]
    assert all(call.cost is not None and call.cost > 0 for call in draft.calls)


async def test_still_breaking_after_one_re_prompt_keeps_the_draft_with_its_findings(
    fake: FakeLLM,
) -> None:
    """The policy is re-prompted only once; the draft keeps its findings for the card."""
    fake.reply_with(BAD)
    draft = await drafter(fake).draft("linkedin", "Announce the notes")
    assert len(fake.requests) == 2
    assert draft.findings == (
        "contains the blocked term “crypto”",
        "links to example.net, which is not allowed",
    )
    assert len(draft.calls) == 2


async def test_length_and_policy_are_asked_together_and_counted_apart(fake: FakeLLM) -> None:
    """An over-long draft with a blocked term gets one request naming both; the length may be
    asked again (twice in all), the policy not."""
    fake.reply_with(LONG_AND_BAD)
    draft = await drafter(fake).draft("x", "Announce")
    assert len(fake.requests) == 3
    first, second = fake.requests[1].user_text, fake.requests[2].user_text
    assert "too long" in first and "content policy" in first
    assert "too long" in second and "content policy" not in second
    assert not draft.within_limit and "contains the blocked term “crypto”" in draft.findings


async def test_a_clean_draft_takes_one_call(fake: FakeLLM) -> None:
    """Nothing found: no re-prompt, one call."""
    fake.reply_with(GOOD)
    draft = await drafter(fake).draft("x", "Announce")
    assert len(fake.requests) == 1 and len(draft.calls) == 1 and draft.reprompts == 0
