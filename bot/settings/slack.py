"""Slack: the bot token and Web API, and how Slack reaches the bot (Socket Mode or HTTP)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.settings.base import AnyCase, AreaSettings
from services.errors import ConfigurationProblems
from services.platforms.base import ApiUrl


class Mode(StrEnum):
    """How Slack reaches the bot."""

    SOCKET = "socket"
    HTTP = "http"


class SlackSettings(AreaSettings):
    """SLACK_BOT_TOKEN, SLACK_API_URL, SOCIALPOST_SOCKET_PING_INTERVAL: talking to Slack."""

    bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    api_url: ApiUrl = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    socket_ping_interval: float = Field(
        10.0, gt=0, validation_alias="SOCIALPOST_SOCKET_PING_INTERVAL"
    )

    @field_validator("bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class ConnectionSettings(AreaSettings):
    """SOCIALPOST_MODE and the credential that mode needs (SLACK_APP_TOKEN in socket mode,
    SLACK_SIGNING_SECRET in http mode).

    Its own area, apart from `SlackSettings`, so that the mode's rule is checked (and
    reported) even when another Slack setting, such as the bot token, is missing.
    """

    mode: Annotated[Mode, AnyCase] = Field(Mode.SOCKET, validation_alias="SOCIALPOST_MODE")
    app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")

    @field_validator("app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @model_validator(mode="after")
    def _credential_for_mode(self) -> Self:
        if self.mode == Mode.SOCKET and self.app_token is None:
            raise ConfigurationProblems(
                ["SLACK_APP_TOKEN: required in socket mode (an xapp- token with connections:write)"]
            )
        if self.mode == Mode.HTTP and self.signing_secret is None:
            raise ConfigurationProblems(
                ["SLACK_SIGNING_SECRET: required in http mode (Basic Information > Signing Secret)"]
            )
        return self
