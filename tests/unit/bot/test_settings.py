"""Settings: every problem named at once, values parsed as the configuration contract says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.settings import DryRun, Mode, RateLimit, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[3]
MINIMAL = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
}


def settings_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> object:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings(env_file=None)


def problems(monkeypatch: pytest.MonkeyPatch, **values: str) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        settings_with(monkeypatch, **values)
    return raised.value.problems


def test_nothing_configured_names_every_required_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no environment, the error lists the bot token, app token and approval channel."""
    found = problems(monkeypatch)
    assert any(p.startswith("SLACK_BOT_TOKEN: required") for p in found)
    assert any(p.startswith("SLACK_APP_TOKEN: required") for p in found)
    assert any(p.startswith("SOCIALPOST_APPROVAL_CHANNEL: required") for p in found)
    assert len(found) == 3


def test_malformed_values_are_all_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every malformed value is named, with what was expected, in one error."""
    found = problems(
        monkeypatch,
        SLACK_BOT_TOKEN="xapp-wrong-kind",
        SLACK_APP_TOKEN="xoxb-wrong-kind",
        SOCIALPOST_APPROVAL_CHANNEL="#social",
        SOCIALPOST_HTTP_PORT="seventy",
        SOCIALPOST_RATE_LIMIT="5",
        SOCIALPOST_APPROVERS="U01,@alice",
        SOCIALPOST_LLM_TIMEOUT="-1",
        SOCIALPOST_MODE="carrier-pigeon",
    )
    names = sorted(p.split(":")[0] for p in found)
    assert names == [
        "SLACK_APP_TOKEN",
        "SLACK_BOT_TOKEN",
        "SOCIALPOST_APPROVAL_CHANNEL",
        "SOCIALPOST_APPROVERS",
        "SOCIALPOST_HTTP_PORT",
        "SOCIALPOST_LLM_TIMEOUT",
        "SOCIALPOST_MODE",
        "SOCIALPOST_RATE_LIMIT",
    ]
    assert any("@alice" in p for p in found)
    assert not any("xoxb-wrong-kind" in p or "xapp-wrong-kind" in p for p in found)


def test_http_mode_needs_the_signing_secret_not_the_app_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In http mode the signing secret is required and the app token is not."""
    found = problems(
        monkeypatch,
        SOCIALPOST_MODE="http",
        SLACK_BOT_TOKEN="xoxb-1",
        SOCIALPOST_APPROVAL_CHANNEL="C1",
    )
    assert found == [
        "SLACK_SIGNING_SECRET: required in http mode (Basic Information > Signing Secret)"
    ]


def test_defaults_and_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults follow SPEC section 2; lists and rate limits are parsed."""
    settings = settings_with(
        monkeypatch, **MINIMAL, SOCIALPOST_APPROVERS=" U01, W02 ", SOCIALPOST_RATE_LIMIT="3/30"
    )
    assert settings.connection.mode == Mode.SOCKET
    assert settings.slack.api_url == "https://slack.com/api/"
    assert settings.approval.approvers == ("U01", "W02")
    assert settings.limits.rate_limit == RateLimit(capacity=3, per_seconds=30)
    assert settings.publishing.dry_run == DryRun.AUTO
    assert settings.llm.models == ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest")
    assert [d.name for d in settings.llm.deployments] == list(settings.llm.models)
    assert settings.jobs.retry_max_attempts == 5
    assert settings.platforms["x"].api_url == "https://api.x.com"
    assert settings.platforms["instagram"].api_url == "https://graph.facebook.com/v21.0"


def test_dry_run_false_without_any_platform_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """SOCIALPOST_DRY_RUN=false with no platform credentials can't start."""
    found = problems(monkeypatch, **MINIMAL, SOCIALPOST_DRY_RUN="false")
    assert len(found) == 1 and found[0].startswith("SOCIALPOST_DRY_RUN:")
    settings = settings_with(
        monkeypatch,
        SOCIALPOST_DRY_RUN="false",
        LINKEDIN_ACCESS_TOKEN="li-token",
        LINKEDIN_AUTHOR_URN="urn:li:person:1",
    )
    assert settings.configured_platforms == {"linkedin"}


def test_llm_config_file_resolves_environment_references(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A litellm model_list YAML is read in order and `os.environ/NAME` values are resolved."""
    config = tmp_path / "llm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: fast\n"
        "    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/MY_KEY}\n"
        "  - model_name: backup\n"
        "    litellm_params: {model: anthropic/claude-3-5-haiku-latest, api_base: http://x}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MY_KEY", "sk-resolved-value")
    settings = settings_with(monkeypatch, **MINIMAL, SOCIALPOST_LLM_CONFIG=str(config))
    fast, backup = settings.llm.deployments
    assert (fast.name, fast.model, fast.params) == (
        "fast",
        "openai/gpt-4o-mini",
        {"api_key": "sk-resolved-value"},
    )
    assert (backup.provider, backup.params["api_base"]) == ("anthropic", "http://x")
    assert "sk-resolved-value" in settings.secret_values()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not: [valid", "not valid YAML"),
        ("model_list: []\n", "non-empty top-level model_list"),
        (
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n"
            "  - model_name: a\n    litellm_params: {model: openai/y}\n",
            "used twice",
        ),
        (
            "model_list:\n  - model_name: a\n"
            "    litellm_params: {model: openai/x, api_key: os.environ/UNSET_KEY}\n",
            "needs UNSET_KEY",
        ),
    ],
)
def test_llm_config_problems_are_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, expected: str
) -> None:
    """A broken LLM config file is a clear settings error."""
    config = tmp_path / "llm.yaml"
    config.write_text(content, encoding="utf-8")
    found = problems(monkeypatch, **MINIMAL, SOCIALPOST_LLM_CONFIG=str(config))
    assert len(found) == 1 and found[0].startswith("SOCIALPOST_LLM_CONFIG:")
    assert expected in found[0]


def test_llm_config_syntax_error_says_where_without_quoting_the_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A YAML syntax error names the line, column and problem, never the offending line
    itself (it may hold an API key)."""
    secret = "sk-live-do-not-print-0123456789"
    config = tmp_path / "llm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: a\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_key: {secret}: broken\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as raised:
        settings_with(monkeypatch, **MINIMAL, SOCIALPOST_LLM_CONFIG=str(config))
    message = str(raised.value)
    assert secret not in message
    assert f"{config} is not valid YAML: line 5, column " in message
    assert "mapping values are not allowed here" in message


def test_brand_voice_from_text_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SOCIALPOST_BRAND_VOICE is the voice itself, or a path to a file holding it."""
    settings = settings_with(monkeypatch, **MINIMAL, SOCIALPOST_BRAND_VOICE="Warm.")
    assert settings.llm.brand_voice == "Warm."
    voice = tmp_path / "voice.md"
    voice.write_text("Plain words, no jargon.\n", encoding="utf-8")
    settings = settings_with(monkeypatch, SOCIALPOST_BRAND_VOICE=str(voice))
    assert settings.llm.brand_voice == "Plain words, no jargon."


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A .env file in the working directory provides settings, and the provider keys in it
    reach the environment litellm reads; real environment variables win."""
    values = {**MINIMAL, "OPENAI_API_KEY": "sk-from-dotenv-123", "SOCIALPOST_HTTP_PORT": "4000"}
    (tmp_path / ".env").write_text(
        "\n".join(f"{k}={v}" for k, v in values.items()), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOCIALPOST_HTTP_PORT", "5000")
    try:
        settings = load_settings()
        assert settings.approval.channel == "C0APPROVALS"
        assert settings.server.http_port == 5000
        assert os.environ["OPENAI_API_KEY"] == "sk-from-dotenv-123"
        assert "sk-from-dotenv-123" in settings.secret_values()
    finally:
        for name in values:
            if name != "SOCIALPOST_HTTP_PORT":
                os.environ.pop(name, None)


def test_python_m_bot_without_configuration_exits_1_with_one_message(tmp_path: Path) -> None:
    """`python -m bot` with nothing configured prints the missing settings, no traceback."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SOCIALPOST_")) and not key.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SOCIALPOST_APPROVAL_CHANNEL"):
        assert name in result.stderr
    assert result.stdout == ""


def test_half_set_platform_credentials_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three of the four X variables (or a LinkedIn token without its author) stop start-up
    naming what is missing, instead of silently falling back to a dry run."""
    found = problems(
        monkeypatch,
        **MINIMAL,
        X_API_KEY="k",
        X_API_SECRET="s",
        X_ACCESS_TOKEN="t",
        LINKEDIN_ACCESS_TOKEN="li",
    )
    assert found == [
        "X_ACCESS_TOKEN_SECRET: required to post to X, since X_API_KEY, X_API_SECRET, "
        "X_ACCESS_TOKEN are set",
        "LINKEDIN_AUTHOR_URN: required to post to LinkedIn, since LINKEDIN_ACCESS_TOKEN is set",
    ]


def test_files_are_read_once_by_the_loader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The LLM config is parsed once and the brand voice file read once, whatever checks
    look at them."""
    config = tmp_path / "llm.yaml"
    config.write_text(
        "model_list:\n  - model_name: a\n    litellm_params: {model: openai/gpt-4o-mini}\n",
        encoding="utf-8",
    )
    voice = tmp_path / "voice.md"
    voice.write_text("Warm and plain.", encoding="utf-8")
    parsed: list[object] = []
    read: list[Path] = []
    real_load, real_read = yaml.safe_load, Path.read_text

    def counting_load(stream: object) -> object:
        parsed.append(stream)
        return real_load(stream)  # type: ignore[arg-type]

    def counting_read(self: Path, *args: object, **kwargs: object) -> str:
        read.append(self)
        return real_read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(yaml, "safe_load", counting_load)
    monkeypatch.setattr(Path, "read_text", counting_read)
    settings = settings_with(
        monkeypatch, **MINIMAL, SOCIALPOST_LLM_CONFIG=str(config), SOCIALPOST_BRAND_VOICE=str(voice)
    )
    assert [d.name for d in settings.llm.deployments] == ["a"]
    assert settings.llm.brand_voice == "Warm and plain."
    assert len(parsed) == 1
    assert sorted(read) == sorted([config, voice])


def test_rules_between_settings_hold_whichever_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """A retry cap below the base delay is refused, naming both settings; a setting that
    other checks read (the mode) may be malformed without hiding unrelated problems."""
    found = problems(
        monkeypatch,
        **MINIMAL,
        SOCIALPOST_RETRY_BASE_DELAY="10",
        SOCIALPOST_RETRY_MAX_DELAY="5",
    )
    assert found == [
        "SOCIALPOST_RETRY_MAX_DELAY: must be at least SOCIALPOST_RETRY_BASE_DELAY (10)"
    ]
    found = problems(monkeypatch, SOCIALPOST_MODE="pigeon", SOCIALPOST_RETRY_MAX_DELAY="1")
    assert sorted(p.split(":")[0] for p in found) == [
        "SOCIALPOST_MODE",
        "SOCIALPOST_RETRY_MAX_DELAY",
    ]


def test_list_and_rate_limit_settings_are_text_never_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists are comma-separated text and rate limits capacity/seconds, as SPEC says: a JSON
    value is not decoded but refused as that text, in the one settings message."""
    settings = settings_with(monkeypatch, **MINIMAL, SOCIALPOST_LLM_MODELS="openai/a, anthropic/b")
    assert settings.llm.models == ("openai/a", "anthropic/b")
    found = problems(
        monkeypatch,
        SOCIALPOST_APPROVERS='["U01", "W02"]',
        SOCIALPOST_RATE_LIMIT='{"capacity": 3, "per_seconds": 30}',
    )
    assert found == [
        'SOCIALPOST_APPROVERS: must be Slack user IDs such as U0123456789, got ["U01", "W02"]',
        "SOCIALPOST_RATE_LIMIT: expected capacity/seconds such as 5/60, "
        'got \'{"capacity": 3, "per_seconds": 30}\'',
    ]


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty variable is as if it were not set: a default applies, a required one is
    named as not set."""
    found = problems(
        monkeypatch,
        **{**MINIMAL, "SOCIALPOST_APPROVAL_CHANNEL": ""},
        SOCIALPOST_HTTP_PORT="",
        SOCIALPOST_RATE_LIMIT="",
    )
    assert found == ["SOCIALPOST_APPROVAL_CHANNEL: required but not set"]
    settings = settings_with(monkeypatch, SOCIALPOST_APPROVAL_CHANNEL="C0APPROVALS")
    assert settings.server.http_port == 3000
    assert settings.limits.rate_limit == RateLimit(capacity=5, per_seconds=60)


def test_only_the_exact_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables are read by their exact SPEC names: another case, or a field's own name, is
    ignored."""
    settings = settings_with(
        monkeypatch,
        **MINIMAL,
        socialpost_http_port="4000",
        Socialpost_Approvers="U01",
        http_port="5000",
        deployments="openai/sneaky",
    )
    assert settings.server.http_port == 3000
    assert settings.approval.approvers == ()
    assert [d.name for d in settings.llm.deployments] == list(settings.llm.models)
