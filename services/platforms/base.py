"""What every platform shares: its descriptor, its settings' base, and the publishing contract.

A platform is described once, by a `PlatformSpec` in its own folder
(`services/platforms/<slug>/__init__.py`): its rules (name, limit, how it measures, hashtags),
its capabilities (threads, a required image), its settings model (the environment variables it
reads, whether it is configured) and how to build its publisher. The registry
(`services.platforms`) lists the specs, and everything else reads them: nothing outside a
platform's folder names a platform or its limit.

Publishers honour their `*_API_URL` setting, map the platform's failures onto
`TransientPublishError` / `PermanentPublishError` with a reason a Slack user understands, and
never retry by themselves: the retry table is the only retry layer for publishing. They share
the process's one HTTP session, which the runtime owns and closes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Protocol, Self, TypeVar

import aiohttp
from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.errors import (
    ConfigurationProblems,
    FailureReason,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from services.platforms.links import find_links as linkify_links
from storage.models import Post

# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """A text measured against a platform's rules."""

    length: int
    limit: int
    problems: tuple[str, ...]
    parts: int = 1

    @property
    def within_limit(self) -> bool:
        """Whether the platform will take the text as it is."""
        return not self.problems


_HASHTAG_SIGN = re.compile(r"(?<![\w&])#\w+")


def measure_characters(spec: PlatformSpec[Any], text: str) -> Measurement:
    """The text's length in characters and every rule of `spec` it breaks: how most platforms
    measure (linear in the text, so it needs no time budget)."""
    length = len(text)
    problems = []
    if length > spec.limit:
        problems.append(f"{length}/{spec.limit} characters, over the limit ({spec.rule})")
    if spec.max_hashtags is not None:
        hashtags = len(_HASHTAG_SIGN.findall(text))
        if hashtags > spec.max_hashtags:
            problems.append(f"{hashtags} hashtags, at most {spec.max_hashtags} allowed")
    return Measurement(length=length, limit=spec.limit, problems=tuple(problems))


# --- settings -------------------------------------------------------------------------------


class DryRun(StrEnum):
    """Whether publishers call the platforms (SPEC section 2, SOCIALPOST_DRY_RUN)."""

    TRUE = "true"
    AUTO = "auto"
    FALSE = "false"


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


ApiUrl = Annotated[str, AfterValidator(_http_url)]
"""An API's base URL setting (`X_API_URL`, `SLACK_API_URL`, ...): http(s) and a host."""


def reveal(secret: SecretStr | None) -> str:
    """The plain value of a secret setting ('' when unset), for the client that sends it."""
    return secret.get_secret_value() if secret is not None else ""


def _present(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return isinstance(value, str) and bool(value.strip())


READ_FROM_ENVIRONMENT = SettingsConfigDict(
    frozen=True,
    case_sensitive=True,
    env_ignore_empty=True,
    extra="ignore",
    enable_decoding=False,
)
"""How every settings model (`PlatformSettings` here, `bot.settings`' areas) reads the process
environment when it is instantiated: each field from the variable its `validation_alias` names,
exactly as written (the names are a contract: SPEC section 2); an empty variable counts as
unset; anything else in the environment is ignored. No value is decoded as JSON: a list-ish
field reads comma-separated text (`bot.settings.base.CommaSeparated`), so a new platform's list
setting can't crash start-up with a traceback."""


class PlatformSettings(BaseSettings):
    """One platform's environment variables (each field's alias is its variable's name), read
    when the model is instantiated.

    A subclass names its `credentials`: the fields that together let the bot post. All of them
    set: the platform is configured. Some but not all: a start-up error naming what is missing,
    since otherwise the platform would quietly become dry-run and approved posts would never
    be published.
    """

    model_config = READ_FROM_ENVIRONMENT

    platform_name: ClassVar[str]
    """The platform's name in messages ("X", "LinkedIn")."""
    env_prefix: ClassVar[str]
    """What its variables start with ("X_"), for messages that mean all of them."""
    credentials: ClassVar[tuple[str, ...]]
    """Field names of the values that together let the bot post."""

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable behind a field."""
        alias = cls.model_fields[field].validation_alias
        return alias if isinstance(alias, str) else field.upper()

    @property
    def configured(self) -> bool:
        """Whether every credential is set."""
        return all(_present(getattr(self, field)) for field in self.credentials)

    @model_validator(mode="after")
    def _credentials_complete(self) -> Self:
        present = [field for field in self.credentials if _present(getattr(self, field))]
        if not present or len(present) == len(self.credentials):
            return self
        names = ", ".join(self.variable(field) for field in present)
        verb = "is" if len(present) == 1 else "are"
        raise ConfigurationProblems(
            [
                f"{self.variable(field)}: required to post to {self.platform_name}, "
                f"since {names} {verb} set"
                for field in self.credentials
                if field not in present
            ]
        )


# --- publishing -----------------------------------------------------------------------------


class PublishResult(BaseModel):
    """What the platform answered: its id for the post and a link to it."""

    model_config = ConfigDict(frozen=True)

    external_id: str
    url: str | None = None
    dry_run: bool = False


class Checkpoints(Protocol):
    """Steps of one post's publishing already done, kept across retries and restarts.

    A publisher that needs several requests (thread parts, an Instagram container) saves each
    platform id the moment the platform answers, and on a retry skips what is done.
    """

    def get(self, step: str) -> str | None:
        """The platform's id for a finished step, or None."""

    async def save(self, step: str, external_id: str) -> None:
        """Record a finished step (committed before this returns)."""


class Publisher(Protocol):
    """Publishes approved posts to one platform (through the shared session: nothing to close)."""

    platform: str
    dry_run: bool

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Publish the post's text; raise a `PublishError` when the platform doesn't take it."""


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_for_status(
    platform: str, status: int, detail: str, *, retry_after: float | None = None
) -> PublishError:
    """The publish error an HTTP status means, the same way for every platform."""
    detail = f"{platform} answered {status}: {detail}".strip().rstrip(":")
    if status == 429:
        return TransientPublishError(FailureReason.RATE_LIMIT, detail, retry_after)
    if status == 401:
        return PermanentPublishError(FailureReason.CREDENTIALS, detail)
    if status >= 500 or status == 408:
        return TransientPublishError(FailureReason.PLATFORM_DOWN, detail, retry_after)
    return PermanentPublishError(FailureReason.REFUSED, detail)


def network_error(platform: str, exc: BaseException) -> TransientPublishError:
    """A request that got no answer (refused connection, reset, timeout)."""
    what = "timed out" if isinstance(exc, TimeoutError) else f"unreachable ({type(exc).__name__})"
    return TransientPublishError(FailureReason.PLATFORM_DOWN, f"{platform} {what}")


# --- the descriptor -------------------------------------------------------------------------

SettingsT = TypeVar("SettingsT", bound=PlatformSettings)


@dataclass(frozen=True)
class Threads:
    """The capability to publish a long text as a chain of numbered posts."""

    split: Callable[[str], list[str]]
    """The numbered parts of a text, each within the platform's limit (cached, bounded)."""
    measure: Callable[[str], Measurement]
    """A draft measured as a thread, part by part (cached, bounded)."""
    asked_for: Callable[[str], bool]
    """Whether a brief asks for a thread (then the draft is written as one)."""


@dataclass(frozen=True)
class PlatformSpec(Generic[SettingsT]):
    """One platform, described once: the registry reads nothing else about it."""

    slug: str
    """Its id everywhere: option values, `posts.platform`, the folder's name (`x`)."""
    name: str
    """Its name as people read it (`X`)."""
    limit: int
    """The longest post it takes, as it counts."""
    rule: str
    """How it counts, in words: measurement problems and prompts quote it."""
    settings: type[SettingsT]
    """Its environment variables."""
    build_publisher: Callable[[SettingsT, aiohttp.ClientSession], Publisher]
    """Its publisher, from its (configured) settings and the process's shared HTTP session."""
    unit: str = "characters"
    """What the card's length line counts in ("24/280 weighted characters")."""
    counting: str = ""
    """How it counts, as the edit modal's hint goes on after "At most N characters"."""
    max_hashtags: int | None = None
    needs_image: bool = False
    threads: Threads | None = None
    """Set when it can publish a thread."""
    count: Callable[[str], Measurement] | None = None
    """Its own measuring (bounded, if it can be slow); by default `measure_characters`."""
    links: Callable[[str], tuple[str, ...] | None] | None = None
    """How it finds the links in a post (bounded; None: too complex to search in time); by
    default linkify-it's way (`services.platforms.links`)."""

    def measure(self, text: str) -> Measurement:
        """The text's length and every rule it breaks, as one post."""
        return self.count(text) if self.count is not None else measure_characters(self, text)

    def find_links(self, text: str) -> tuple[str, ...] | None:
        """Every link the platform would find in `text`, as written, in order; None when the
        text is too complex to search in time."""
        return (self.links or linkify_links)(text)

    def length(self, text: str) -> int:
        """The text's length as the platform counts it (X: at least this, if `measure`
        finds the text too complex or far over the limit)."""
        return self.measure(text).length
