"""Guardrails before approval (SPEC section 7.4): the content policy and the LLM budget."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator

from bot.settings.base import AreaSettings, CommaSeparated
from services.checks.policy import ContentPolicy, normalize_domain


class GuardrailSettings(AreaSettings):
    """SOCIALPOST_BLOCKED_TERMS, SOCIALPOST_ALLOWED_LINK_DOMAINS, SOCIALPOST_LLM_MONTHLY_BUDGET."""

    blocked_terms: Annotated[tuple[str, ...], CommaSeparated] = Field(
        (), validation_alias="SOCIALPOST_BLOCKED_TERMS"
    )
    """Words or phrases a post must not contain (any case, whole words only)."""
    allowed_link_domains: Annotated[tuple[str, ...], CommaSeparated] = Field(
        (), validation_alias="SOCIALPOST_ALLOWED_LINK_DOMAINS"
    )
    """The only domains a post may link to, subdomains included; empty: any domain."""
    monthly_budget: Decimal | None = Field(
        None, ge=0, allow_inf_nan=False, validation_alias="SOCIALPOST_LLM_MONTHLY_BUDGET"
    )
    """USD a calendar month (UTC) of LLM calls may cost; None: no cap."""

    @field_validator("monthly_budget", mode="before")
    @classmethod
    def _dollars(cls, value: object) -> object:
        # "$50" is how people write a budget; the sign is not part of the number.
        return value.strip().removeprefix("$").strip() if isinstance(value, str) else value

    @field_validator("allowed_link_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        domains: list[str] = []
        bad: list[str] = []
        for item in value:
            domain = normalize_domain(item)
            if domain is None:
                bad.append(item)
            else:
                domains.append(domain)
        if bad:
            raise ValueError(
                f"must be domain names such as example.com, got {', '.join(map(repr, bad))}"
            )
        return tuple(dict.fromkeys(domains))

    @property
    def content_policy(self) -> ContentPolicy:
        """The policy every draft and edit is checked against."""
        return ContentPolicy(
            blocked_terms=self.blocked_terms,
            allowed_domains=self.allowed_link_domains or None,
        )
