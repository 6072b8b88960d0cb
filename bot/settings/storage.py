"""Storage: where the database lives.

SOCIALPOST_DATABASE_URL names the database: `postgresql://user:password@host:port/dbname`
(also `postgres://`) for a database several processes share, or `sqlite:///path/to/file.db`.
Unset: the SQLite file at SOCIALPOST_DB_PATH, as before there was a choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings.base import AreaSettings
from services.errors import ConfigurationProblems
from storage import backend_of, sqlite_url

URL_VARIABLE = "SOCIALPOST_DATABASE_URL"


class DatabaseURL(BaseModel):
    """A database URL, kept secret (it may hold a password): `url` and `password` are both
    secrets, so both are redacted from every log line (`Settings.secret_values`)."""

    model_config = ConfigDict(frozen=True)

    url: SecretStr
    password: SecretStr | None
    backend: str
    shown: str
    """The URL with `***` for its password, for messages."""


def _database_url(value: Any) -> Any:
    """Parse the variable's text; a problem is reported without the text (it may hold a
    password)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    backend = backend_of(text)
    if backend is None:
        raise ConfigurationProblems(
            [
                f"{URL_VARIABLE}: must start with postgresql://, postgres:// or sqlite:/// "
                "(for example postgresql://user:password@host:5432/socialpost)"
            ]
        )
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise ConfigurationProblems([f"{URL_VARIABLE}: is not a valid URL"]) from None
    if backend == "sqlite" and (not parsed.database or parsed.database == ":memory:"):
        raise ConfigurationProblems(
            [f"{URL_VARIABLE}: a SQLite URL names a file: sqlite:///path/to/file.db"]
        )
    if backend == "postgresql" and not parsed.database:
        raise ConfigurationProblems(
            [f"{URL_VARIABLE}: names no database (postgresql://user:password@host/dbname)"]
        )
    password = parsed.password
    return DatabaseURL(
        url=SecretStr(text),
        password=SecretStr(str(password)) if password else None,
        backend=backend,
        shown=parsed.set(drivername=parsed.drivername.partition("+")[0]).render_as_string(
            hide_password=True
        ),
    )


class StorageSettings(AreaSettings):
    """SOCIALPOST_DATABASE_URL, SOCIALPOST_DB_PATH, SOCIALPOST_DATABASE_POOL_SIZE."""

    database_url: Annotated[DatabaseURL | None, BeforeValidator(_database_url)] = Field(
        None, validation_alias=URL_VARIABLE
    )
    db_path: Path = Field(Path("./socialpost.db"), validation_alias="SOCIALPOST_DB_PATH")
    # PostgreSQL: connections each process keeps (plus one that listens for queued work).
    pool_size: int = Field(5, ge=1, le=100, validation_alias="SOCIALPOST_DATABASE_POOL_SIZE")

    @property
    def url(self) -> str:
        """The URL to open: SOCIALPOST_DATABASE_URL, or the SQLite file at SOCIALPOST_DB_PATH."""
        if self.database_url is not None:
            return self.database_url.url.get_secret_value()
        return sqlite_url(self.db_path)

    @property
    def shown(self) -> str:
        """The database for a person to read (a URL's password is `***`)."""
        if self.database_url is not None:
            return self.database_url.shown
        return str(self.db_path.resolve())
