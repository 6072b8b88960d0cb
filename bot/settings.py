"""Settings: every environment variable of SPEC section 2, read once at start-up.

`load_settings()` returns a validated `Settings` or raises `SettingsError` whose message names
every missing or malformed variable at once, so an operator fixes their deployment in one go.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from dotenv import load_dotenv
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.models import Deployment

DEFAULT_LLM_MODELS = ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest")
# LinkedIn versions are monthly and supported for about a year; keep this a recent month.
DEFAULT_LINKEDIN_VERSION = "202610"

# Loose on purpose: catch a #name or @name where an ID belongs, never refuse a real ID.
_SLACK_ID = re.compile(r"^[A-Z0-9][A-Za-z0-9_-]*$")
_ENV_REFERENCE = "os.environ/"


class SettingsError(Exception):
    """The environment does not describe a runnable bot; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"socialpost can't start: {len(problems)} setting(s) to fix "
            f"(environment variables or .env):\n{lines}"
        )


class Mode(StrEnum):
    """How Slack reaches the bot."""

    SOCKET = "socket"
    HTTP = "http"


class DryRun(StrEnum):
    """Whether publishers call the platforms (see SPEC section 2, SOCIALPOST_DRY_RUN)."""

    TRUE = "true"
    AUTO = "auto"
    FALSE = "false"


class LogFormat(StrEnum):
    """structlog renderer."""

    JSON = "json"
    CONSOLE = "console"


class RateLimit(BaseModel, frozen=True):
    """A token bucket: `capacity` tokens, refilled completely over `per_seconds`."""

    capacity: int
    per_seconds: float

    @classmethod
    def parse(cls, value: str) -> RateLimit:
        """Read `capacity/seconds`, e.g. `5/60`."""
        capacity, sep, seconds = value.strip().partition("/")
        try:
            limit = cls(capacity=int(capacity), per_seconds=float(seconds))
        except ValueError:
            limit = None
        if not sep or limit is None or limit.capacity < 1 or limit.per_seconds <= 0:
            raise ValueError(f"expected capacity/seconds such as 5/60, got {value!r}")
        return limit

    def __str__(self) -> str:
        return f"{self.capacity}/{self.per_seconds:g}"


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """The whole configuration contract. Field order matters: later checks read earlier fields."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        env_ignore_empty=True,
    )

    _deployments: list[Deployment] = PrivateAttr(default_factory=list)

    mode: Mode = Field(Mode.SOCKET, validation_alias="SOCIALPOST_MODE")
    slack_bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(
        None, validation_alias="SLACK_APP_TOKEN", validate_default=True
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias="SLACK_SIGNING_SECRET", validate_default=True
    )
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    http_port: int = Field(3000, ge=1, le=65535, validation_alias="SOCIALPOST_HTTP_PORT")
    approval_channel: str = Field(validation_alias="SOCIALPOST_APPROVAL_CHANNEL")
    approvers: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="SOCIALPOST_APPROVERS"
    )
    allow_self_approval: bool = Field(False, validation_alias="SOCIALPOST_ALLOW_SELF_APPROVAL")
    db_path: Path = Field(Path("./socialpost.db"), validation_alias="SOCIALPOST_DB_PATH")

    llm_models: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_LLM_MODELS, validation_alias="SOCIALPOST_LLM_MODELS"
    )
    llm_config: Path | None = Field(None, validation_alias="SOCIALPOST_LLM_CONFIG")
    llm_timeout: float = Field(20.0, gt=0, validation_alias="SOCIALPOST_LLM_TIMEOUT")
    llm_cooldown: float = Field(30.0, gt=0, validation_alias="SOCIALPOST_LLM_COOLDOWN")

    x_api_key: SecretStr | None = Field(None, validation_alias="X_API_KEY")
    x_api_secret: SecretStr | None = Field(None, validation_alias="X_API_SECRET")
    x_access_token: SecretStr | None = Field(None, validation_alias="X_ACCESS_TOKEN")
    x_access_token_secret: SecretStr | None = Field(None, validation_alias="X_ACCESS_TOKEN_SECRET")
    x_api_url: str = Field("https://api.x.com", validation_alias="X_API_URL")

    linkedin_access_token: SecretStr | None = Field(None, validation_alias="LINKEDIN_ACCESS_TOKEN")
    linkedin_author_urn: str | None = Field(None, validation_alias="LINKEDIN_AUTHOR_URN")
    linkedin_api_url: str = Field("https://api.linkedin.com", validation_alias="LINKEDIN_API_URL")
    linkedin_version: str = Field(DEFAULT_LINKEDIN_VERSION, validation_alias="LINKEDIN_VERSION")

    instagram_access_token: SecretStr | None = Field(
        None, validation_alias="INSTAGRAM_ACCESS_TOKEN"
    )
    instagram_user_id: str | None = Field(None, validation_alias="INSTAGRAM_USER_ID")
    instagram_api_url: str = Field(
        "https://graph.facebook.com/v21.0", validation_alias="INSTAGRAM_API_URL"
    )

    dry_run: DryRun = Field(DryRun.AUTO, validation_alias="SOCIALPOST_DRY_RUN")

    retry_max_attempts: int = Field(5, ge=1, validation_alias="SOCIALPOST_RETRY_MAX_ATTEMPTS")
    retry_base_delay: float = Field(2.0, ge=0, validation_alias="SOCIALPOST_RETRY_BASE_DELAY")
    retry_max_delay: float = Field(300.0, ge=0, validation_alias="SOCIALPOST_RETRY_MAX_DELAY")
    job_lease: float = Field(30.0, gt=0, validation_alias="SOCIALPOST_JOB_LEASE")
    shutdown_grace: float = Field(10.0, ge=0, validation_alias="SOCIALPOST_SHUTDOWN_GRACE")
    platform_cooldown: float = Field(60.0, gt=0, validation_alias="SOCIALPOST_PLATFORM_COOLDOWN")

    rate_limit: Annotated[RateLimit, NoDecode] = Field(
        RateLimit(capacity=5, per_seconds=60), validation_alias="SOCIALPOST_RATE_LIMIT"
    )
    workspace_rate_limit: Annotated[RateLimit, NoDecode] = Field(
        RateLimit(capacity=100, per_seconds=3600),
        validation_alias="SOCIALPOST_WORKSPACE_RATE_LIMIT",
    )
    socket_ping_interval: float = Field(
        10.0, gt=0, validation_alias="SOCIALPOST_SOCKET_PING_INTERVAL"
    )

    brand_voice: str | None = Field(None, validation_alias="SOCIALPOST_BRAND_VOICE")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: LogFormat = Field(LogFormat.JSON, validation_alias="LOG_FORMAT")

    # --- field checks -----------------------------------------------------------------

    @field_validator("mode", "dry_run", "log_format", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_needed(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        if value is None and info.data.get("mode", Mode.SOCKET) == Mode.SOCKET:
            raise ValueError("required in socket mode (an xapp- token with connections:write)")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret_needed(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None and info.data.get("mode") == Mode.HTTP:
            raise ValueError("required in http mode (Basic Information > Signing Secret)")
        return value

    @field_validator("slack_api_url", "x_api_url", "linkedin_api_url", "instagram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("approval_channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        value = value.strip()
        if not _SLACK_ID.match(value):
            raise ValueError(
                f"must be a channel ID such as C0123456789 (not a #name), got {value!r}"
            )
        return value

    @field_validator("approvers", mode="before")
    @classmethod
    def _approver_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("approvers")
    @classmethod
    def _approver_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [item for item in value if not _SLACK_ID.match(item)]
        if bad:
            raise ValueError(f"must be Slack user IDs such as U0123456789, got {', '.join(bad)}")
        return value

    @field_validator("llm_models", mode="before")
    @classmethod
    def _model_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("llm_models")
    @classmethod
    def _models_present(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one litellm model, e.g. openai/gpt-4o-mini")
        return value

    @field_validator("llm_config")
    @classmethod
    def _config_readable(cls, value: Path | None) -> Path | None:
        if value is not None:
            deployments_from_config(value)
        return value

    @field_validator("rate_limit", "workspace_rate_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value: object) -> object:
        return RateLimit.parse(value) if isinstance(value, str) else value

    @field_validator("retry_max_delay")
    @classmethod
    def _max_delay_above_base(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("retry_base_delay")
        if base is not None and value < base:
            raise ValueError(f"must be at least SOCIALPOST_RETRY_BASE_DELAY ({base:g})")
        return value

    @field_validator("linkedin_version")
    @classmethod
    def _yyyymm(cls, value: str) -> str:
        if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])", value.strip()):
            raise ValueError(f"must be a YYYYMM version such as 202610, got {value!r}")
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return level

    @field_validator("brand_voice")
    @classmethod
    def _brand_voice_file(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        candidate = Path(value.strip()).expanduser()
        if len(value) < 1024 and "\n" not in value and candidate.is_file():
            return candidate.read_text(encoding="utf-8").strip() or None
        return value.strip()

    @field_validator("dry_run")
    @classmethod
    def _some_platform_configured(cls, value: DryRun, info: ValidationInfo) -> DryRun:
        if value == DryRun.FALSE and not _configured_platforms(info.data):
            raise ValueError(
                "is false but no platform has credentials "
                "(set the X_*, LINKEDIN_* or INSTAGRAM_* variables, or use auto)"
            )
        return value

    # --- derived values ---------------------------------------------------------------

    def model_post_init(self, context: Any, /) -> None:
        if self.llm_config is not None:
            self._deployments = deployments_from_config(self.llm_config)
        else:
            self._deployments = [Deployment(name=model, model=model) for model in self.llm_models]

    @property
    def llm_deployments(self) -> list[Deployment]:
        """The LLM providers to try, in fallback order."""
        return self._deployments

    @property
    def configured_platforms(self) -> set[str]:
        """Slugs of the platforms that have credentials."""
        return _configured_platforms(self.__dict__)

    def secret_values(self) -> list[str]:
        """Every secret this process knows, for log redaction."""
        secrets = [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        for deployment in self.llm_deployments:
            api_key = deployment.params.get("api_key")
            if isinstance(api_key, str) and api_key:
                secrets.append(api_key)
        for name, value in os.environ.items():
            if value and re.search(r"(API_KEY|_SECRET|_TOKEN|PASSWORD)$", name):
                secrets.append(value)
        # Very short values would redact ordinary words; real secrets are long.
        return sorted({secret for secret in secrets if len(secret) >= 6}, key=len, reverse=True)


def _configured_platforms(values: dict[str, Any]) -> set[str]:
    platforms = set()
    if all(
        values.get(name)
        for name in ("x_api_key", "x_api_secret", "x_access_token", "x_access_token_secret")
    ):
        platforms.add("x")
    if values.get("linkedin_access_token") and values.get("linkedin_author_urn"):
        platforms.add("linkedin")
    if values.get("instagram_access_token") and values.get("instagram_user_id"):
        platforms.add("instagram")
    return platforms


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what the YAML problem is, without quoting the file: the offending line may
    hold an API key."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return "it can't be parsed"
    problem = exc.problem or exc.context or "it can't be parsed"
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def deployments_from_config(path: Path) -> list[Deployment]:
    """Read a litellm proxy-style YAML `model_list`; `os.environ/NAME` values are resolved."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"can't read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
    entries = document.get("model_list") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path} must have a non-empty top-level model_list")
    deployments: list[Deployment] = []
    for index, entry in enumerate(entries):
        where = f"{path}: model_list[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("litellm_params"), dict):
            raise ValueError(f"{where} needs model_name and litellm_params")
        params = dict(entry["litellm_params"])
        model = params.pop("model", None)
        name = entry.get("model_name") or model
        if not isinstance(model, str) or not model:
            raise ValueError(f"{where}.litellm_params needs a model")
        if any(d.name == name for d in deployments):
            raise ValueError(f"{where}: model_name {name!r} is used twice; names must be distinct")
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith(_ENV_REFERENCE):
                variable = value.removeprefix(_ENV_REFERENCE)
                if variable not in os.environ:
                    raise ValueError(
                        f"{where}.litellm_params.{key} needs {variable}, which is unset"
                    )
                params[key] = os.environ[variable]
        deployments.append(Deployment(name=str(name), model=model, params=params))
    return deployments


def _describe(error: Any) -> str:
    names = error.get("loc") or ("?",)
    name = str(names[0])
    field = Settings.model_fields.get(name)
    if field is not None and isinstance(field.validation_alias, str):
        name = field.validation_alias
    if error.get("type") == "missing":
        return f"{name}: required but not set"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if error.get("type") not in {"value_error", "assertion_error"}:
        value = error.get("input")
        if isinstance(value, str) and "TOKEN" not in name and "SECRET" not in name:
            message = f"{message} (got {value!r})"
    return f"{name}: {message}"


CREDENTIAL_GROUPS = {
    "X": ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),
    "LinkedIn": ("LINKEDIN_ACCESS_TOKEN", "LINKEDIN_AUTHOR_URN"),
    "Instagram": ("INSTAGRAM_ACCESS_TOKEN", "INSTAGRAM_USER_ID"),
}


def credential_problems(environ: Mapping[str, str]) -> list[str]:
    """A platform's credentials half set is a mistake: without this check the platform would
    quietly become dry-run and approved posts would never be published."""
    problems = []
    for platform, names in CREDENTIAL_GROUPS.items():
        present = [name for name in names if environ.get(name, "").strip()]
        if present and len(present) < len(names):
            for name in names:
                if name not in present:
                    problems.append(
                        f"{name}: required to post to {platform}, since "
                        f"{', '.join(present)} {'is' if len(present) == 1 else 'are'} set"
                    )
    return problems


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read and check the environment once; raise `SettingsError` listing every problem.

    The `.env` file is loaded into the process environment (without overriding what is
    already set), because litellm reads the provider keys (`OPENAI_API_KEY`, ...) from there.
    """
    if env_file is not None and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    problems = credential_problems(os.environ)
    try:
        settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError([_describe(error) for error in exc.errors()] + problems) from None
    if problems:
        raise SettingsError(problems)
    return settings
