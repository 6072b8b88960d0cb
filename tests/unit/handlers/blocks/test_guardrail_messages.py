"""The guardrails' words, exactly as SPEC section 7.4 gives them."""

from __future__ import annotations

from decimal import Decimal

from handlers.blocks import messages
from services.checks import ContentPolicy, check


def test_card_and_refusal_words_come_from_the_findings() -> None:
    """A finding reads "Policy: …" on the card and "This draft breaks the content policy: …
    Edit it first." when Approve is refused."""
    verdict = check("x", "Crypto <tips> at example.net", ContentPolicy(("crypto",), ("a.org",)))
    assert [messages.policy_finding(f.problem) for f in verdict.policy_findings] == [
        "Policy: contains the blocked term “crypto”",
        "Policy: links to example.net, which is not allowed",
    ]
    assert verdict.policy_problem is not None
    assert messages.policy_refusal(verdict.policy_problem) == (
        "This draft breaks the content policy: contains the blocked term “crypto”; "
        "links to example.net, which is not allowed. Edit it first."
    )


def test_a_configured_term_is_escaped_for_slack() -> None:
    """A blocked term holding markup characters is shown, never interpreted."""
    finding = check("x", "a <b> c", ContentPolicy(("<b>",))).findings[0]
    assert messages.policy_finding(finding.problem) == (
        "Policy: contains the blocked term “&lt;b&gt;”"
    )


def test_budget_words() -> None:
    """The refusal names the budget as set; the warning the spend, the share and the budget."""
    assert messages.budget_exhausted(Decimal(50)) == "This month's LLM budget ($50) is used up."
    assert messages.budget_exhausted(Decimal("12.5")) == (
        "This month's LLM budget ($12.50) is used up."
    )
    warning = messages.budget_warning(Decimal("40.5"), Decimal(50))
    assert "$40.50, 81% of the $50 budget" in warning
