"""The exceptions the services raise on purpose, in one tree:

    SocialpostError                  anything socialpost raises on purpose
    ├── InvalidRequest               bad input from a user: nothing was stored (field -> message)
    ├── RateLimited                  too many drafting requests; `retry_after` seconds to wait
    ├── PostNotFound                 no post with that id
    ├── IllegalTransition            a move the lifecycle's table doesn't have (a bug)
    ├── RetryLater                   a job asks to run again at `run_at`, no attempt spent
    ├── JobFailed                    a job's run failed; `transient`: another may succeed
    ├── CircuitOpen                  a provider or platform is cooling down after failing
    ├── GenerationError              the LLM side failed
    │   └── GenerationUnavailable    every provider failed or is cooling down
    └── PublishError                 a platform did not take the post
        ├── TransientPublishError    worth trying again later (5xx, network, 429)
        └── PermanentPublishError    trying again can't help (credentials, duplicate, refused)

    ValueError
    └── ConfigurationProblems        settings that can't work together (raised while validating)

Slack-facing code catches these and tells the user something useful; anything else is a bug and
reaches the global error handler.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class SocialpostError(Exception):
    """Base of every exception socialpost raises on purpose."""


class InvalidRequest(SocialpostError):
    """The user's input can't be used; `errors` maps each field to a message for that user."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))


class RateLimited(SocialpostError):
    """Too many drafting requests; the caller may try again after `retry_after` seconds."""

    def __init__(self, retry_after: float, scope: str = "user") -> None:
        self.retry_after = retry_after
        self.scope = scope
        super().__init__(f"{scope} rate limit: retry after {retry_after:.1f}s")


class PostNotFound(SocialpostError):
    """No post has that id."""


class IllegalTransition(SocialpostError):
    """A move the lifecycle's transition table doesn't have, or by someone it doesn't allow:
    the caller skipped its check (a bug, never a user's doing)."""


class RetryLater(SocialpostError):
    """Run the job again at `run_at` without counting this run as an attempt (a platform is
    cooling down, Slack asked to hold back)."""

    def __init__(self, run_at: datetime, reason: str) -> None:
        self.run_at = run_at
        self.reason = reason
        super().__init__(reason)


class JobFailed(SocialpostError):
    """A job's run failed; `transient` says whether another run may succeed, `retry_after`
    (seconds) is the far side's own hint of when."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None):
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        super().__init__(reason)


class CircuitOpen(SocialpostError):
    """`name` failed repeatedly and is left alone until `retry_at` (epoch seconds), or its one
    trial request is in flight."""

    def __init__(self, name: str, retry_at: float) -> None:
        self.name = name
        self.retry_at = retry_at
        super().__init__(f"{name} is cooling down")


class GenerationError(SocialpostError):
    """The LLM side failed."""


class GenerationUnavailable(GenerationError):
    """Every configured LLM provider failed (or is cooling down after failing)."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        summary = ", ".join(f"{name}: {reason}" for name, reason in failures) or "none configured"
        super().__init__(f"no LLM provider answered ({summary})")


class FailureReason(StrEnum):
    """Why a platform did not take a post, in words a Slack user understands."""

    RATE_LIMIT = "rate limit"
    CREDENTIALS = "expired or wrong credentials"
    DUPLICATE = "duplicate content"
    PLATFORM_DOWN = "platform down"
    REFUSED = "refused by the platform"


class PublishError(SocialpostError):
    """A platform did not take the post."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")


class TransientPublishError(PublishError):
    """Worth trying again later; `retry_after` is the platform's own hint, if it gave one."""

    def __init__(self, reason: FailureReason, detail: str, retry_after: float | None = None):
        super().__init__(reason, detail)
        self.retry_after = retry_after


class PermanentPublishError(PublishError):
    """Trying again can't help: credentials, duplicate content, content refused."""


class ConfigurationProblems(ValueError):
    """Settings that can't work together, one line per problem, each naming its variable.

    Raised by a settings model's cross-field check (`model_validator(mode="after")`), which can
    find several problems at once; a `ValueError`, so pydantic reports it and `bot.settings`
    lists every line in its one start-up message.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
