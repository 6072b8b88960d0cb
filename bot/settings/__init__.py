"""Settings: every environment variable of SPEC section 2, read once at start-up.

`load_settings()` loads `.env` into the environment, then reads it once through one
pydantic-settings model per area (`slack`, `connection`, `server`, `approval`, `storage`,
`llm`, `jobs`, `limits`, `publishing`, `ideas`, `guardrails`, `log`, plus each registered
platform's own model from its descriptor), reads the files the settings name, and returns a
`Settings` composed of them. Or it raises `SettingsError`, whose message names every missing or
malformed variable at once, so an operator fixes their deployment in one go.

A rule between fields lives in its model's `model_validator(mode="after")`: it sees every
field, whatever their order. Areas are validated separately so that a problem in one doesn't
hide the problems of another.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

from dotenv import load_dotenv
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

from bot.settings.api import ApiSettings
from bot.settings.approval import ApprovalSettings
from bot.settings.base import AreaSettings
from bot.settings.guardrails import GuardrailSettings
from bot.settings.ideas import IdeasSettings, load_topics
from bot.settings.jobs import JobSettings
from bot.settings.limits import LimitSettings, RateLimit
from bot.settings.llm import LLMSettings, load_files
from bot.settings.log import LogFormat, LogSettings
from bot.settings.platforms import PublishingSettings
from bot.settings.schedule import ScheduleSettings
from bot.settings.server import ServerSettings
from bot.settings.slack import ConnectionSettings, Mode, SlackSettings
from bot.settings.storage import StorageSettings
from services.errors import ConfigurationProblems
from services.platforms import PLATFORMS, configured_platforms
from services.platforms.base import DryRun, PlatformSettings

# Environment variables whose values are secrets, whether or not a setting reads them.
_SECRET_NAME = re.compile(r"(API_KEY|_SECRET|_TOKEN|PASSWORD)$")
# Very short values would redact ordinary words; real secrets are long.
_SHORTEST_SECRET = 6


class SettingsError(Exception):
    """The environment does not describe a runnable bot; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"socialpost can't start: {len(problems)} setting(s) to fix "
            f"(environment variables or .env):\n{lines}"
        )


class Settings(BaseModel):
    """The whole configuration, one model per area."""

    model_config = ConfigDict(frozen=True)

    slack: SlackSettings
    connection: ConnectionSettings
    server: ServerSettings
    approval: ApprovalSettings
    storage: StorageSettings
    llm: LLMSettings
    jobs: JobSettings
    limits: LimitSettings
    publishing: PublishingSettings
    ideas: IdeasSettings
    guardrails: GuardrailSettings
    schedule: ScheduleSettings
    platforms: dict[str, PlatformSettings]
    """Each registered platform's settings, by slug."""
    log: LogSettings
    api: ApiSettings

    @model_validator(mode="after")
    def _some_platform_configured(self) -> Self:
        if self.publishing.dry_run == DryRun.FALSE and not self.configured_platforms:
            prefixes = [f"{PLATFORMS[slug].settings.env_prefix}*" for slug in self.platforms]
            listed = ", ".join(prefixes[:-1]) + f" or {prefixes[-1]}" if prefixes else "platform"
            raise ConfigurationProblems(
                [
                    "SOCIALPOST_DRY_RUN: is false but no platform has credentials "
                    f"(set the {listed} variables, or use auto)"
                ]
            )
        return self

    @property
    def configured_platforms(self) -> set[str]:
        """Slugs of the platforms that have credentials."""
        return configured_platforms(self.platforms)

    def secret_values(self) -> list[str]:
        """Every secret this process knows, for log redaction."""
        secrets = [value.get_secret_value() for value in _secrets(self)]
        for deployment in self.llm.deployments:
            api_key = deployment.params.get("api_key")
            if isinstance(api_key, str) and api_key:
                secrets.append(api_key)
        for name, value in os.environ.items():
            if value and _SECRET_NAME.search(name):
                secrets.append(value)
        return sorted(
            {secret for secret in secrets if len(secret) >= _SHORTEST_SECRET},
            key=len,
            reverse=True,
        )


def _secrets(model: BaseModel) -> Iterator[SecretStr]:
    """Every set SecretStr field of `model` and the models inside it."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        children = value.values() if isinstance(value, dict) else [value]
        for child in children:
            if isinstance(child, SecretStr) and child.get_secret_value():
                yield child
            elif isinstance(child, BaseModel):
                yield from _secrets(child)


AREAS: dict[str, type[AreaSettings]] = {
    "slack": SlackSettings,
    "connection": ConnectionSettings,
    "server": ServerSettings,
    "approval": ApprovalSettings,
    "storage": StorageSettings,
    "llm": LLMSettings,
    "jobs": JobSettings,
    "limits": LimitSettings,
    "publishing": PublishingSettings,
    "ideas": IdeasSettings,
    "guardrails": GuardrailSettings,
    "schedule": ScheduleSettings,
    "log": LogSettings,
    "api": ApiSettings,
}
"""The areas, in the order their problems are listed."""


def _describe(error: Any, model: type[BaseModel]) -> list[str]:
    """One validation error as problem lines, each naming its environment variable."""
    context = error.get("ctx") or {}
    if isinstance(context.get("error"), ConfigurationProblems):
        return list(context["error"].problems)
    names = error.get("loc") or ()
    name = str(names[0]) if names else model.__name__
    field = model.model_fields.get(name)
    if field is not None and isinstance(field.validation_alias, str):
        name = field.validation_alias
    if error.get("type") == "missing":
        return [f"{name}: required but not set"]
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") not in {"value_error", "assertion_error"}:
        value = error.get("input")
        if isinstance(value, str) and "TOKEN" not in name and "SECRET" not in name:
            message = f"{message} (got {value!r})"
    return [f"{name}: {message}"]


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], problems: list[str], **values: object) -> M | None:
    """`model(**values)`, or None with its problems added to `problems`. A settings model
    (`AreaSettings`, `PlatformSettings`) reads its fields from the environment as it is
    instantiated."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems += [line for error in exc.errors() for line in _describe(error, model)]
        return None


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read and check the environment once; raise `SettingsError` listing every problem.

    The `.env` file is loaded into the process environment (without overriding what is
    already set), because litellm reads the provider keys (`OPENAI_API_KEY`, ...) from there.
    An empty variable counts as unset.
    """
    if env_file is not None and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    problems: list[str] = []
    areas = {name: _validated(model, problems) for name, model in AREAS.items()}
    platforms = {slug: _validated(spec.settings, problems) for slug, spec in PLATFORMS.items()}
    llm = areas["llm"]
    if isinstance(llm, LLMSettings):
        try:
            areas["llm"] = load_files(llm)
        except ValueError as exc:
            problems.append(f"SOCIALPOST_LLM_CONFIG: {exc}")
    ideas = areas["ideas"]
    if isinstance(ideas, IdeasSettings):
        areas["ideas"] = load_topics(ideas)
    if problems:
        raise SettingsError(problems)
    settings = _validated(Settings, problems, **areas, platforms=platforms)
    if settings is None:
        raise SettingsError(problems)
    return settings


def load_storage_settings(env_file: str | Path | None = ".env") -> StorageSettings:
    """Only the storage area (`socialpost migrate-to` needs no Slack or LLM settings);
    `SettingsError` like `load_settings`."""
    if env_file is not None and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    problems: list[str] = []
    storage = _validated(StorageSettings, problems)
    if storage is None:
        raise SettingsError(problems)
    return storage


__all__ = [
    "DryRun",
    "LogFormat",
    "Mode",
    "RateLimit",
    "Settings",
    "SettingsError",
    "load_settings",
    "load_storage_settings",
]
