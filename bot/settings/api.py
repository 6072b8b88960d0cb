"""The intake API, webhooks and metrics (SPEC section 7.3)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.settings.base import AreaSettings
from bot.settings.limits import RateLimit
from services.errors import ConfigurationProblems
from services.platforms.base import ApiUrl
from services.webhooks.signing import secret_key


def parse_api_keys(value: str) -> dict[str, SecretStr]:
    """`name:key,name:key` as {name: key}; a `ValueError` that never quotes a key.

    The name is what the card shows ("via API: <name>"), so it is short and plain; a key may
    hold `:` (only the first one separates). Two entries with the same name or the same key
    would make the requester ambiguous.
    """
    keys: dict[str, SecretStr] = {}
    seen: set[str] = set()
    for position, entry in enumerate(value.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, key = (part.strip() for part in entry.partition(":"))
        if not sep or not name or not key:
            raise ValueError(f"entry {position} is not name:key")
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"entry {position}: the name may hold letters, digits, - _ . only")
        if name in keys:
            raise ValueError(f"the name {name!r} is given twice")
        if key in seen:
            raise ValueError(f"entry {position} repeats the key of another entry")
        keys[name] = SecretStr(key)
        seen.add(key)
    return keys


class ApiSettings(AreaSettings):
    """SOCIALPOST_API_KEYS, SOCIALPOST_API_RATE_LIMIT, SOCIALPOST_TRUST_PROXY,
    SOCIALPOST_WEBHOOK_URL + SOCIALPOST_WEBHOOK_SECRET, SOCIALPOST_METRICS."""

    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, validation_alias="SOCIALPOST_API_KEYS"
    )
    """API key by its name (the requester shown on the card)."""
    api_rate_limit: RateLimit = Field(
        RateLimit(capacity=60, per_seconds=60), validation_alias="SOCIALPOST_API_RATE_LIMIT"
    )
    trust_proxy: bool = Field(False, validation_alias="SOCIALPOST_TRUST_PROXY")
    webhook_url: ApiUrl | None = Field(None, validation_alias="SOCIALPOST_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(None, validation_alias="SOCIALPOST_WEBHOOK_SECRET")
    metrics: bool = Field(False, validation_alias="SOCIALPOST_METRICS")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _api_keys(cls, value: object) -> object:
        return parse_api_keys(value) if isinstance(value, str) else value

    @field_validator("api_rate_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value: object) -> object:
        return RateLimit.parse(value) if isinstance(value, str) else value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            secret_key(value.get_secret_value())  # a ValueError that never quotes it
        return value

    @model_validator(mode="after")
    def _webhook_url_with_secret(self) -> Self:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            given, missing = (
                ("SOCIALPOST_WEBHOOK_URL", "SOCIALPOST_WEBHOOK_SECRET")
                if self.webhook_secret is None
                else ("SOCIALPOST_WEBHOOK_SECRET", "SOCIALPOST_WEBHOOK_URL")
            )
            raise ConfigurationProblems([f"{missing}: required when {given} is set"])
        return self

    @property
    def serves_http(self) -> bool:
        """Whether Socket Mode needs the HTTP server too: for the API or for metrics."""
        return bool(self.api_keys) or self.metrics

    @property
    def webhooks(self) -> bool:
        """Whether lifecycle events are sent to a webhook receiver."""
        return self.webhook_url is not None
