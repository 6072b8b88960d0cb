"""The HTTP server (`bot.http`): its port."""

from __future__ import annotations

from pydantic import Field

from bot.settings.base import AreaSettings


class ServerSettings(AreaSettings):
    """SOCIALPOST_HTTP_PORT: where `/slack/events` (http mode) and `/healthz` listen."""

    http_port: int = Field(3000, ge=1, le=65535, validation_alias="SOCIALPOST_HTTP_PORT")
