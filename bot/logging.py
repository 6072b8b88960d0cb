"""The only logging configuration: structlog, JSON by default, with secret redaction.

Every event passes through `SecretRedactor` last before rendering: configured secret values and
anything shaped like a Slack token (`xoxb-`, `xapp-`, ...) or an API key (`sk-...`) are replaced,
wherever they appear in the event (messages, fields, nested structures, exception text).
Standard-library loggers (slack_sdk, aiohttp, litellm) are routed through the same pipeline.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"
LIBRARY_LOGGERS_WITH_HANDLERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
_TOKEN_SHAPES = re.compile(
    r"\b(?:xox[abposr]|xapp|xoxe)-[A-Za-z0-9-]{4,}"
    r"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{8,}"
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\boauth_signature=\"?[^\",\s]+"
)


class SecretRedactor:
    """A structlog processor that removes secrets from every event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every known secret and token-shaped string replaced."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPES.sub(REDACTED, text)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self._clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set):
            return type(value)(self._clean(item) for item in value)
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.redact(repr(value) if isinstance(value, BaseException) else str(value))

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event_dict.items()):
            event_dict[key] = self._clean(value)
        return event_dict


def configure_logging(
    *, level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()
) -> SecretRedactor:
    """Set up structlog and the standard-library root logger; returns the redactor in use."""
    redactor = SecretRedactor(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    final: list[Any] = [
        structlog.processors.format_exc_info,
        redactor,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # litellm gives its loggers their own stderr handler, which would bypass redaction.
    for name in LIBRARY_LOGGERS_WITH_HANDLERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # Libraries that log request bodies at DEBUG stay quieter unless asked for.
    for noisy in ("slack_sdk", "slack_bolt", "aiohttp.access", "LiteLLM", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
    return redactor
