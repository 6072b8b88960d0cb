"""What every settings area shares: how it reads the environment, and small parsers."""

from __future__ import annotations

import re

from pydantic import BeforeValidator
from pydantic_settings import BaseSettings

from services.platforms.base import READ_FROM_ENVIRONMENT

# Loose on purpose: catch a #name or @name where an ID belongs, never refuse a real ID.
SLACK_ID = re.compile(r"^[A-Z0-9][A-Za-z0-9_-]*$")


class AreaSettings(BaseSettings):
    """One area's settings, read from the process environment when the model is instantiated
    (`load_settings` loads `.env` into it first).

    Each field's `validation_alias` is its environment variable (the names are a contract:
    SPEC section 2); an empty variable counts as unset; anything else in the environment is
    ignored (`READ_FROM_ENVIRONMENT`).
    """

    model_config = READ_FROM_ENVIRONMENT


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _lowercase(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


CommaSeparated = BeforeValidator(_split_commas)
"""For a list setting: `a, b,,c` is `("a", "b", "c")` (settings never decode JSON)."""
AnyCase = BeforeValidator(_lowercase)
"""For a choice setting: written in any case, with spaces around (`HTTP`, ` Auto `)."""
