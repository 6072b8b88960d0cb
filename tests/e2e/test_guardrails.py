"""Guardrails before approval (SPEC 7.4), through the real bot and the emulators: the content
policy on drafts, edits and Approve; each draft's cost from the provider's token usage; the
monthly budget checked before any LLM call, and its one 80% warning."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from handlers.blocks.cost import usd
from services.models import PostStatus
from tests.support.emulators.base import wait_until
from tests.support.emulators.llm import FakeLLM
from tests.support.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, World

INPUT_PRICE = Decimal("0.00001")
OUTPUT_PRICE = Decimal("0.00002")
CLEAN = "Our spring release is out: faster drafts, safer approvals. Read more at example.com!"
BLOCKED = "Crypto is the future! Our release explains why at example.net"
POLICY = {
    "SOCIALPOST_BLOCKED_TERMS": "crypto, buy now",
    "SOCIALPOST_ALLOWED_LINK_DOMAINS": "example.com",
}


def priced_config(world: World, *, priced: bool = True) -> str:
    """An LLM config with one self-hosted model on the OpenAI fake, priced per token (or not:
    litellm can't price it then)."""
    prices = (
        f"      input_cost_per_token: {INPUT_PRICE}\n      output_cost_per_token: {OUTPUT_PRICE}\n"
        if priced
        else ""
    )
    path = Path(world.dir) / "priced.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: ours\n"
        "    litellm_params:\n"
        "      model: openai/our-llama\n"
        f"      api_base: {world.openai.url}/v1\n"
        "      api_key: os.environ/OPENAI_API_KEY\n" + prices,
        encoding="utf-8",
    )
    return str(path)


def cost_of(llm: FakeLLM, start: int = 0) -> Decimal:
    """What the fake's answers since request `start` cost at the test prices, from the token
    usage it reported."""
    total = Decimal(0)
    for request in llm.requests[start:]:
        assert request.usage is not None
        prompt, completion = request.usage
        total += prompt * INPUT_PRICE + completion * OUTPUT_PRICE
    return total


async def edit(bot: object, card: object, user: str, text: str) -> object:
    """Click Edit on `card`, type `text`, submit; returns the submission's ack."""
    before = len(bot.slack.calls)
    await bot.click(card, "edit", user)
    call = await bot.slack.wait_for_call("views.open", after=before)
    values = {"draft_text": {"draft_text": {"type": "plain_text_input", "value": text}}}
    return await bot.slack.submit_view(call.response["view"], user, values)


async def test_a_draft_breaking_the_policy_is_re_prompted_once_naming_the_problem(
    world: World,
) -> None:
    """The LLM is asked once more, told the blocked term and the link; the clean second draft
    reaches the card without findings, and the card's cost counts both calls."""
    world.openai.queue_replies(BLOCKED, CLEAN)
    bot = await world.start_bot(**POLICY, SOCIALPOST_LLM_CONFIG=priced_config(world))
    await bot.submit()
    card = await bot.wait_card(lambda c: CLEAN in c.all_text(), what="the clean draft")
    assert len(world.openai.requests) == 2
    reprompt = world.openai.requests[1].user_text
    assert "contains the blocked term “crypto”" in reprompt
    assert "links to example.net, which is not allowed" in reprompt
    assert "Policy:" not in card.all_text()
    assert f"LLM cost: {usd(cost_of(world.openai))}" in card.all_text()
    await bot.settle()
    (post,) = await bot.runtime.store.posts.with_status([PostStatus.PENDING])
    calls = await bot.runtime.store.llm_calls.for_post(post.id)
    assert [c.cost for c in calls] == [
        (p * INPUT_PRICE + c * OUTPUT_PRICE)
        for p, c in (r.usage for r in world.openai.requests if r.usage)
    ]
    assert post.llm_cost == cost_of(world.openai)


async def test_a_finding_that_stands_blocks_approval_until_an_edit_fixes_it(
    world: World,
) -> None:
    """A draft still breaking the policy after its one re-prompt shows the findings in SPEC's
    words; Approve is refused privately and publishes nothing; Edit refuses such text in the
    modal; a clean edit can be approved and is posted."""
    world.openai.reply_with(BLOCKED)
    bot = await world.start_bot(**POLICY)
    await bot.submit()
    card = await bot.wait_card(lambda c: "Policy:" in c.all_text(), what="findings")
    assert len(world.openai.requests) == 2
    assert "Policy: contains the blocked term “crypto”" in card.all_text()
    assert "Policy: links to example.net, which is not allowed" in card.all_text()

    await bot.click(card, "approve", APPROVER)
    refusal = (
        "This draft breaks the content policy: contains the blocked term “crypto”; links to "
        "example.net, which is not allowed. Edit it first."
    )
    await wait_until(lambda: refusal in bot.ephemerals_for(APPROVER), message="refusal")
    assert world.x.tweets == []
    (post,) = await bot.runtime.store.posts.with_status([PostStatus.PENDING])
    trail = await bot.runtime.store.audit.for_post(post.id)
    assert any(entry.outcome == "refused:policy" for entry in trail)

    ack = await edit(bot, card, REQUESTER, "BUY  NOW, it's CRYPTO.")
    assert ack.payload["response_action"] == "errors"
    assert (
        "This breaks the content policy: contains the blocked term “crypto”; contains the "
        "blocked term “buy now”."
    ) in json.dumps(ack.payload, ensure_ascii=False)

    ack = await edit(bot, card, REQUESTER, "Our release notes are at docs.example.com.")
    assert not ack.payload
    edited = await bot.wait_card(lambda c: "docs.example.com" in c.all_text())
    assert "Policy:" not in edited.all_text()
    await bot.click(edited, "approve", APPROVER)
    tweets = await world.x.wait_for_tweets(1)
    assert tweets[0].text == "Our release notes are at docs.example.com."


async def test_a_model_litellm_cant_price_shows_cost_unknown(world: World) -> None:
    """A self-hosted model without prices: the card says "LLM cost unknown" (never $0) and
    /socialpost status counts the call as unknown."""
    bot = await world.start_bot(SOCIALPOST_LLM_CONFIG=priced_config(world, priced=False))
    await bot.submit()
    card = await bot.draft_card()
    assert "LLM cost unknown" in card.all_text()
    assert "$0" not in card.all_text()
    status = await world.slack.slash_command(REQUESTER, "status")
    assert "LLM spend this month (UTC): $0 (1 call of unknown cost)" in json.dumps(status.payload)


async def test_the_budget_stops_drafts_before_any_llm_call_and_warns_once(world: World) -> None:
    """The draft that crosses the budget goes ahead; then new drafts and regenerations are
    refused privately in SPEC's words with no LLM request and nothing stored; the approvers
    get exactly one 80% message in the approval channel; status shows the month's total."""
    bot = await world.start_bot(
        SOCIALPOST_LLM_CONFIG=priced_config(world), SOCIALPOST_LLM_MONTHLY_BUDGET="0.001"
    )
    await bot.submit("A first post, under the budget")
    card = await bot.draft_card()
    spent = cost_of(world.openai)
    assert spent >= Decimal("0.001"), "the fake's usage must cross the test budget"
    warning = await wait_until(
        lambda: [m for m in bot.cards() if "LLM spend" in m.all_text()], message="warning"
    )
    assert f"{usd(spent)}" in warning[0].all_text()
    assert "of the $0.001 budget" in warning[0].all_text()

    requests = len(world.openai.requests)
    ack, _view = await bot.submit("A second post, over the budget")
    refusal = "This month's LLM budget ($0.001) is used up."
    assert refusal in json.dumps(ack.payload)

    def refusals_seen() -> int:
        private = bot.ephemerals_for(REQUESTER) + [m.text for m in bot.dms_to(REQUESTER)]
        return sum(refusal in text for text in private)

    await wait_until(lambda: refusals_seen() == 1, message="private refusal")
    await bot.click(card, "regenerate", REQUESTER)
    await wait_until(lambda: refusals_seen() == 2, message="regeneration refused")
    await bot.settle()
    assert len(world.openai.requests) == requests
    counts = await bot.runtime.store.posts.count_by_status()
    assert sum(counts.values()) == 1
    refusals = [e for e in await bot.runtime.store.audit.recent() if "budget" in e.outcome]
    assert {(e.action, e.outcome) for e in refusals} == {
        ("draft", "refused:budget_exhausted"),
        ("regenerate", "refused:budget_exhausted"),
    }

    status = await world.slack.slash_command(APPROVER, "status")
    assert f"LLM spend this month (UTC): {usd(spent)} of the $0.001 budget" in json.dumps(
        status.payload
    )
    warnings = [m for m in world.slack.channel_messages(APPROVAL_CHANNEL) if "LLM spend" in m.text]
    assert len(warnings) == 1
