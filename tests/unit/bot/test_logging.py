"""Logging: JSON by default, and no secret ever reaches the output."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from bot.logging import REDACTED, SecretRedactor, configure_logging


def test_configured_secrets_and_token_shapes_are_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Secret values and xoxb-/xapp-/sk- shaped strings vanish from messages, fields and
    exceptions."""
    configure_logging(level="INFO", fmt="json", secrets=["hunter2-signing-secret"])
    log = structlog.get_logger("test")
    log.info(
        "event with hunter2-signing-secret",
        headers={"Authorization": "Bearer abcdefghijklmnop"},
        tokens=["xoxb-123-456-abcdef", "xapp-1-A0-xyz123"],
        key="sk-proj-abcdefghijklmnop1234",
    )
    try:
        raise RuntimeError("failed with sk-ant-api03-secretsecretsecret")
    except RuntimeError:
        log.exception("crash")
    logging.getLogger("slack_sdk").warning("stdlib says xoxb-999-888-zzzzzz")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.strip().splitlines()]
    assert len(lines) == 3
    for secret in (
        "hunter2-signing-secret",
        "abcdefghijklmnop",
        "xoxb-",
        "xapp-1",
        "sk-proj",
        "sk-ant",
    ):
        assert secret not in err
    assert lines[0]["event"] == f"event with {REDACTED}"
    assert lines[0]["level"] == "info"
    assert REDACTED in lines[1]["exception"]


def test_console_format_is_for_humans(capsys: pytest.CaptureFixture[str]) -> None:
    """LOG_FORMAT=console prints readable lines, still redacted."""
    configure_logging(level="INFO", fmt="console", secrets=["s3cr3t-value"])
    structlog.get_logger("test").warning("hello s3cr3t-value", user="U1")
    err = capsys.readouterr().err
    assert "hello [REDACTED]" in err and "user=U1" in err
    assert not err.lstrip().startswith("{")


def test_redactor_leaves_ordinary_text_alone() -> None:
    """Words that merely look like prefixes are kept."""
    redactor = SecretRedactor([])
    assert redactor.redact("ask-me anything, task-list") == "ask-me anything, task-list"
