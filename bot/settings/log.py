"""Logging: level and format (`bot.logging` configures structlog with them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator

from bot.settings.base import AnyCase, AreaSettings


class LogFormat(StrEnum):
    """structlog renderer."""

    JSON = "json"
    CONSOLE = "console"


class LogSettings(AreaSettings):
    """LOG_LEVEL, LOG_FORMAT."""

    level: str = Field("INFO", validation_alias="LOG_LEVEL")
    format: Annotated[LogFormat, AnyCase] = Field(LogFormat.JSON, validation_alias="LOG_FORMAT")

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return level
