"""Storage: where the database lives."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.settings.base import AreaSettings


class StorageSettings(AreaSettings):
    """SOCIALPOST_DB_PATH: the SQLite file."""

    db_path: Path = Field(Path("./socialpost.db"), validation_alias="SOCIALPOST_DB_PATH")
