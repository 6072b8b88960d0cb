"""The card shows the checks' verdict and what the draft cost."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from handlers.blocks.card import approval_card
from handlers.blocks.status import status_blocks
from services.checks import ContentPolicy, check
from services.models import Post, PostStatus, Spend


def post(**changes: Any) -> Post:
    """A pending X post; `changes` override its values."""
    values: dict[str, Any] = {
        "id": "post-1",
        "status": PostStatus.PENDING,
        "platform": "x",
        "message": "Crypto tips at example.net",
        "requester": "U1",
        "brief": "tips",
        "llm_provider": "openai",
        "llm_model": "gpt-4o-mini",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(changes)
    return Post.model_validate(values)


def card_json(shown: Post, problems: tuple[str, ...] = ()) -> str:
    _text, blocks = approval_card(shown, dry_run=False, policy_problems=problems)
    return json.dumps(blocks, ensure_ascii=False)


POLICY = ContentPolicy(blocked_terms=("crypto",), allowed_domains=("example.com",))


def test_a_pending_card_shows_each_policy_finding_in_spec_words() -> None:
    """Each finding is its own "Policy: …" line; the buttons stay (a click is refused)."""
    shown = post()
    problems = tuple(f.problem for f in check("x", shown.message or "", POLICY).policy_findings)
    blocks = card_json(shown, problems)
    assert "Policy: contains the blocked term “crypto”" in blocks
    assert "Policy: links to example.net, which is not allowed" in blocks
    assert "Approve & post" in blocks


def test_a_decided_card_no_longer_shows_findings() -> None:
    """Once rejected or posted, the findings are history: the card doesn't repeat them."""
    blocks = card_json(post(status=PostStatus.REJECTED, rejected_by="U2"), ("x",))
    assert "Policy:" not in blocks


def test_the_card_shows_the_cost_or_that_it_is_unknown() -> None:
    """ "LLM cost: $0.0004" for priced calls, "LLM cost unknown" when none could be priced,
    nothing for a post from before costs were kept."""
    priced = post(llm_cost=Decimal("0.00041"), llm_call_count=2)
    assert "LLM cost: $0.0004" in card_json(priced)
    unknown = post(llm_call_count=1, llm_unpriced_count=1)
    assert "LLM cost unknown" in card_json(unknown)
    mixed = post(llm_cost=Decimal("0.0004"), llm_call_count=2, llm_unpriced_count=1)
    assert "LLM cost: $0.0004 + cost unknown" in card_json(mixed)
    assert "LLM cost" not in card_json(post())


def test_status_shows_this_months_spend_against_the_budget() -> None:
    """/socialpost status ends with this month's total, the calls of unknown cost, the budget."""
    spend = Spend(known=Decimal("1.234"), calls=3, unknown=1)
    _text, blocks = status_blocks([], [], month_spend=spend, budget=Decimal(50))
    assert blocks[-1]["elements"][0]["text"] == (
        "LLM spend this month (UTC): $1.23 (1 call of unknown cost) of the $50 budget"
    )
    _text, blocks = status_blocks([], [], month_spend=Spend(known=Decimal("0.0004"), calls=1))
    assert blocks[-1]["elements"][0]["text"] == "LLM spend this month (UTC): $0.0004"
