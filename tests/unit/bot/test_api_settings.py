"""The API area's settings: keys as name:key pairs, the webhook pair, nothing secret quoted."""

from __future__ import annotations

import pytest

from bot.settings import RateLimit, Settings
from tests.unit.bot.test_settings import MINIMAL
from tests.unit.bot.test_settings import problems as base_problems
from tests.unit.bot.test_settings import settings_with as base_settings_with


def settings_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    """The settings of a minimal bot environment plus `values`."""
    loaded = base_settings_with(monkeypatch, **{**MINIMAL, **values})
    assert isinstance(loaded, Settings)
    return loaded


def problems(monkeypatch: pytest.MonkeyPatch, **values: str) -> list[str]:
    """The start-up problems of a minimal bot environment plus `values`."""
    return base_problems(monkeypatch, **{**MINIMAL, **values})


def test_defaults_serve_no_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, there are no keys, 60/60 per address, no proxy trusted, no webhooks, no metrics."""
    api = settings_with(monkeypatch).api
    assert api.api_keys == {}
    assert api.api_rate_limit == RateLimit(capacity=60, per_seconds=60)
    assert not api.trust_proxy and not api.metrics and not api.webhooks
    assert not api.serves_http


def test_keys_are_name_key_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ci:k1, zapier:k:2` gives two keys by name; a key may hold a colon."""
    api = settings_with(monkeypatch, SOCIALPOST_API_KEYS="ci:k_8f1, zapier:k:1c,").api
    assert {name: key.get_secret_value() for name, key in api.api_keys.items()} == {
        "ci": "k_8f1",
        "zapier": "k:1c",
    }
    assert api.serves_http


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ci", "entry 1 is not name:key"),
        ("ci:secretvalue1,:secretvalue2", "entry 2 is not name:key"),
        ("ci:secretvalue1,ci:secretvalue2", "the name 'ci' is given twice"),
        ("ci:secretvalue1,cd:secretvalue1", "entry 2 repeats the key of another entry"),
        ("c i:secretvalue1", "entry 1: the name may hold letters, digits, - _ . only"),
    ],
)
def test_malformed_keys_are_explained_without_quoting_them(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    """A malformed SOCIALPOST_API_KEYS names the problem and never shows a key."""
    (problem,) = problems(monkeypatch, SOCIALPOST_API_KEYS=value)
    assert problem == f"SOCIALPOST_API_KEYS: {expected}"
    assert "secretvalue" not in problem


def test_keys_are_redacted_from_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """API keys and the webhook secret are among the secrets the log redacts."""
    settings = settings_with(
        monkeypatch,
        SOCIALPOST_API_KEYS="ci:k_longsecret1",
        SOCIALPOST_WEBHOOK_URL="https://hooks.example.com/in",
        SOCIALPOST_WEBHOOK_SECRET="plain-webhook-secret",
    )
    assert {"k_longsecret1", "plain-webhook-secret"} <= set(settings.secret_values())


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"SOCIALPOST_WEBHOOK_URL": "https://hooks.example.com/in"},
            "SOCIALPOST_WEBHOOK_SECRET: required when SOCIALPOST_WEBHOOK_URL is set",
        ),
        (
            {"SOCIALPOST_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
            "SOCIALPOST_WEBHOOK_URL: required when SOCIALPOST_WEBHOOK_SECRET is set",
        ),
    ],
)
def test_webhook_url_and_secret_come_together(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    """One of SOCIALPOST_WEBHOOK_URL / _SECRET without the other is a start-up problem."""
    assert problems(monkeypatch, **values) == [expected]


def test_whsec_secret_must_be_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    """A whsec_ secret that isn't base64 after the prefix is refused, without quoting it."""
    (problem,) = problems(
        monkeypatch,
        SOCIALPOST_WEBHOOK_URL="https://hooks.example.com/in",
        SOCIALPOST_WEBHOOK_SECRET="whsec_not*base64!",
    )
    assert problem.startswith("SOCIALPOST_WEBHOOK_SECRET: ")
    assert "base64" in problem and "not*base64" not in problem


def test_webhooks_and_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook URL and secret together turn webhooks on; METRICS=true serves /metrics."""
    api = settings_with(
        monkeypatch,
        SOCIALPOST_WEBHOOK_URL="http://127.0.0.1:9/hook",
        SOCIALPOST_WEBHOOK_SECRET="plain",
        SOCIALPOST_METRICS="true",
        SOCIALPOST_TRUST_PROXY="true",
        SOCIALPOST_API_RATE_LIMIT="10/1",
    ).api
    assert api.webhooks and api.metrics and api.trust_proxy and api.serves_http
    assert api.api_rate_limit == RateLimit(capacity=10, per_seconds=1)


def test_bad_api_rate_limit_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed rate limit and a webhook URL that isn't http(s) are both reported."""
    found = problems(
        monkeypatch,
        SOCIALPOST_API_RATE_LIMIT="lots",
        SOCIALPOST_WEBHOOK_URL="ftp://example.com",
        SOCIALPOST_WEBHOOK_SECRET="plain",
    )
    assert [line.split(":")[0] for line in found] == [
        "SOCIALPOST_API_RATE_LIMIT",
        "SOCIALPOST_WEBHOOK_URL",
    ]
