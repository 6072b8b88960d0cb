"""The LLM: which models in which order, how long to wait, and the brand voice.

Two settings may name files: SOCIALPOST_LLM_CONFIG (a litellm proxy-style YAML) and
SOCIALPOST_BRAND_VOICE (the voice itself, or a path to a file holding it). Validators only
check values; `load_files` reads and parses those files, once, for `load_settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, PrivateAttr, field_validator

from bot.settings.base import AreaSettings, CommaSeparated
from services.drafting.cost import custom_prices
from services.models import Deployment

DEFAULT_LLM_MODELS = ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest")
_ENV_REFERENCE = "os.environ/"
# A brand voice this long, or on several lines, is the voice itself, never a file name.
_LONGEST_PATH = 1024


class LLMSettings(AreaSettings):
    """SOCIALPOST_LLM_*, SOCIALPOST_BRAND_VOICE; `deployments` and `brand_voice` as
    `load_files` resolved them."""

    models: Annotated[tuple[str, ...], CommaSeparated] = Field(
        DEFAULT_LLM_MODELS, validation_alias="SOCIALPOST_LLM_MODELS"
    )
    config: Path | None = Field(None, validation_alias="SOCIALPOST_LLM_CONFIG")
    timeout: float = Field(20.0, gt=0, validation_alias="SOCIALPOST_LLM_TIMEOUT")
    cooldown: float = Field(30.0, gt=0, validation_alias="SOCIALPOST_LLM_COOLDOWN")
    brand_voice: str | None = Field(None, validation_alias="SOCIALPOST_BRAND_VOICE")
    """The brand voice text (after `load_files`: read from the file the setting names)."""
    # Not a field: every field is read from the environment, and this comes from the files.
    _deployments: tuple[Deployment, ...] = PrivateAttr(())

    @property
    def deployments(self) -> tuple[Deployment, ...]:
        """The providers to try, in fallback order, as `load_files` resolved them."""
        return self._deployments

    @field_validator("models")
    @classmethod
    def _models_present(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one litellm model, e.g. openai/gpt-4o-mini")
        return value

    @field_validator("brand_voice")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() if value is not None and value.strip() else None


def load_files(llm: LLMSettings) -> LLMSettings:
    """`llm` with its files read: the deployments from SOCIALPOST_LLM_CONFIG (else one per
    SOCIALPOST_LLM_MODELS entry) and the brand voice from the file it names, if it names one.

    Raises `ValueError` saying what is wrong with the LLM config file.
    """
    if llm.config is not None:
        deployments = deployments_from_config(llm.config)
    else:
        deployments = [Deployment(name=model, model=model) for model in llm.models]
    resolved = llm.model_copy(update={"brand_voice": brand_voice(llm.brand_voice)})
    resolved._deployments = tuple(deployments)
    return resolved


def brand_voice(value: str | None) -> str | None:
    """The brand voice: `value` itself, or the text of the file it names."""
    if value is None:
        return None
    candidate = Path(value).expanduser()
    if len(value) < _LONGEST_PATH and "\n" not in value and candidate.is_file():
        return candidate.read_text(encoding="utf-8").strip() or None
    return value


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
        try:
            custom_prices(params)
        except ValueError as exc:
            raise ValueError(f"{where}.litellm_params {exc}") from None
        deployments.append(Deployment(name=str(name), model=model, params=params))
    return deployments
