"""What every settings area shares: how it reads the environment, and small parsers."""

from __future__ import annotations

import re

from pydantic import BaseModel, BeforeValidator, ConfigDict

# Loose on purpose: catch a #name or @name where an ID belongs, never refuse a real ID.
SLACK_ID = re.compile(r"^[A-Z0-9][A-Za-z0-9_-]*$")


class AreaSettings(BaseModel):
    """One area's settings, validated from the environment mapping `load_settings` read.

    Each field's `validation_alias` is its environment variable (the names are a contract:
    SPEC section 2); anything else in the environment is ignored.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _lowercase(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


CommaSeparated = BeforeValidator(_split_commas)
"""For a list setting: `a, b,,c` is `("a", "b", "c")`."""
AnyCase = BeforeValidator(_lowercase)
"""For a choice setting: written in any case, with spaces around (`HTTP`, ` Auto `)."""
