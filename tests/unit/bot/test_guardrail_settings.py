"""The guardrail settings (SPEC 7.4): blocked terms, allowed link domains, the monthly budget,
and prices in the LLM config."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings
from tests.unit.bot.test_settings import MINIMAL, problems, settings_with


def guardrails_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    """The settings of a minimal deployment with these variables set."""
    settings = settings_with(monkeypatch, **MINIMAL, **values)
    assert isinstance(settings, Settings)
    return settings


def problems_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> list[str]:
    """What start-up says about a minimal deployment with these variables set."""
    return problems(monkeypatch, **MINIMAL, **values)


def test_unset_means_no_policy_and_no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default nothing is blocked, any link is allowed and the LLM spend has no cap."""
    guardrails = guardrails_with(monkeypatch).guardrails
    assert guardrails.blocked_terms == ()
    assert guardrails.monthly_budget is None
    assert guardrails.content_policy.is_empty


def test_values_are_read_as_comma_separated_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terms and domains are comma-separated (never JSON); domains are normalized; "$50" is 50."""
    guardrails = guardrails_with(
        monkeypatch,
        SOCIALPOST_BLOCKED_TERMS='crypto, buy now ,,["x"]',
        SOCIALPOST_ALLOWED_LINK_DOMAINS="Example.com, https://docs.example.org/, *.bücher.de",
        SOCIALPOST_LLM_MONTHLY_BUDGET=" $50 ",
    ).guardrails
    assert guardrails.blocked_terms == ("crypto", "buy now", '["x"]')
    assert guardrails.allowed_link_domains == (
        "example.com",
        "docs.example.org",
        "xn--bcher-kva.de",
    )
    assert guardrails.monthly_budget == Decimal(50)
    policy = guardrails.content_policy
    assert policy.blocked_terms_in("BUY NOW") == ["buy now"]
    assert policy.disallowed_hosts(["www.example.com", "evil.net"]) == ["evil.net"]


def test_malformed_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-domain and a negative or non-numeric budget are each named with their variable."""
    found = problems_with(
        monkeypatch,
        SOCIALPOST_ALLOWED_LINK_DOMAINS="example.com, not a domain, com",
        SOCIALPOST_LLM_MONTHLY_BUDGET="-5",
    )
    assert any(
        p.startswith("SOCIALPOST_ALLOWED_LINK_DOMAINS: must be domain names")
        and "'not a domain', 'com'" in p
        for p in found
    )
    assert any(p.startswith("SOCIALPOST_LLM_MONTHLY_BUDGET:") for p in found)
    monkeypatch.delenv("SOCIALPOST_ALLOWED_LINK_DOMAINS")
    assert problems_with(monkeypatch, SOCIALPOST_LLM_MONTHLY_BUDGET="lots")[0].startswith(
        "SOCIALPOST_LLM_MONTHLY_BUDGET:"
    )
    assert problems_with(monkeypatch, SOCIALPOST_LLM_MONTHLY_BUDGET="inf")[0].startswith(
        "SOCIALPOST_LLM_MONTHLY_BUDGET:"
    )


def test_llm_config_prices_are_checked_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An entry with only one price, or a price that isn't a number, stops start-up with the
    entry named; a full pair is kept with the entry."""
    config = tmp_path / "llm.yaml"
    entry = {
        "model_name": "ours",
        "litellm_params": {"model": "openai/llama", "input_cost_per_token": 1e-7},
    }
    config.write_text(yaml.safe_dump({"model_list": [entry]}))
    found = problems_with(monkeypatch, SOCIALPOST_LLM_CONFIG=str(config))
    assert found == [
        f"SOCIALPOST_LLM_CONFIG: {config}: model_list[0].litellm_params gives "
        "input_cost_per_token but not output_cost_per_token: give both"
    ]
    entry["litellm_params"]["output_cost_per_token"] = 4e-7
    config.write_text(yaml.safe_dump({"model_list": [entry]}))
    (deployment,) = guardrails_with(monkeypatch, SOCIALPOST_LLM_CONFIG=str(config)).llm.deployments
    assert deployment.params["output_cost_per_token"] == 4e-7
