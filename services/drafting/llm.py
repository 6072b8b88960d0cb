"""The multi-provider LLM client: providers tried in order, each behind a circuit breaker.

litellm does the talking (one API for OpenAI, Anthropic, Gemini, ...). Fallback is a plain loop
over the configured deployments rather than litellm's Router, because the Router's cool-down
ignores connection errors, so an unreachable provider would keep costing every draft a timeout.
Each provider has a circuit breaker instead (`services.circuit`): 2 failures in a row that say
the provider is unwell (refused connection, timeout, 5xx, 429, rejected credentials) open it
for `cooldown` seconds, then one trial request decides. A request refused for itself (a
content filter, a bad request) falls back like any failure but doesn't count: one user's brief
must not switch a provider off for everyone. This loop is the only retry layer: litellm and
the provider SDKs are told not to retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import Any

# litellm fetches a model cost map from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
import structlog

from services.circuit import Circuits
from services.errors import CircuitOpen, GenerationUnavailable
from services.models import Completion, Deployment

litellm.suppress_debug_info = True
litellm.telemetry = False
logging.getLogger("LiteLLM").setLevel(logging.WARNING)

FAILURES_TO_OPEN = 2

log = structlog.get_logger(__name__)

Message = dict[str, str]


class EmptyCompletion(Exception):
    """The provider answered without any text."""


# HTTP answers that say the provider (or our account with it) is unwell, whatever was asked.
_PROVIDER_STATUSES = frozenset({401, 403, 408, 429})


def caused_by_the_request(exc: BaseException) -> bool:
    """Whether a failure was this request's own doing (a 4xx such as a content filter, a bad
    request or a prompt too long; an empty answer), not a sign the provider is unwell."""
    if isinstance(exc, EmptyCompletion):
        return True
    if isinstance(exc, TimeoutError | litellm.exceptions.Timeout):
        return False
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return False  # no HTTP answer at all: refused, reset, unreachable
    return 400 <= status < 500 and status not in _PROVIDER_STATUSES


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | litellm.exceptions.Timeout):
        return "timeout"
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    return f"{name} ({status})" if status else name


class LLMClient:
    """Ask the configured providers, in order, for one completion."""

    def __init__(
        self, deployments: Sequence[Deployment], *, timeout: float, cooldown: float
    ) -> None:
        if not deployments:
            raise ValueError("at least one LLM deployment is needed")
        self.deployments = list(deployments)
        self.timeout = timeout
        self._circuits = Circuits(
            threshold=FAILURES_TO_OPEN,
            cooldown=cooldown,
            kind="llm",
            ignore=[(Exception, caused_by_the_request)],
        )

    async def warm_up(self) -> None:
        """Load what litellm and the provider SDKs import lazily on their first call.

        The first real request would otherwise spend most of a second importing modules (the
        OpenAI SDK's resources, each provider's handlers) while a user waits for a draft.
        litellm's `mock_response` runs the whole call path without any network.
        """
        import openai.resources  # noqa: F401 - imported for its side effect: loaded now

        for deployment in self.deployments:
            try:
                await litellm.acompletion(
                    model=deployment.model,
                    messages=[{"role": "user", "content": "warm-up"}],
                    mock_response="ok",
                    **deployment.params,
                )
            except Exception as exc:
                # A provider litellm can't even prepare will fail properly on first use.
                log.warning("llm_warm_up_failed", provider=deployment.name, reason=_describe(exc))

    async def complete(self, messages: list[Message]) -> Completion:
        """The first answer from the providers, in fallback order.

        Raises `GenerationUnavailable` when every provider failed or is cooling down.
        """
        failures: list[tuple[str, str]] = []
        for index, deployment in enumerate(self.deployments):
            try:
                async with self._circuits.guard(deployment.name):
                    text, model = await self._ask(deployment, messages)
            except CircuitOpen:
                failures.append((deployment.name, "cooling down"))
                continue
            except Exception as exc:
                reason = _describe(exc)
                log.warning("llm_provider_failed", provider=deployment.name, reason=reason)
                failures.append((deployment.name, reason))
                continue
            if failures:
                log.info("llm_fallback_used", provider=deployment.name, skipped=failures)
            return Completion(
                text=text,
                provider=deployment.provider,
                model=model,
                deployment=deployment.name,
                configured_model=deployment.model,
                fallback_used=index > 0,
            )
        raise GenerationUnavailable(failures)

    async def _ask(self, deployment: Deployment, messages: list[Message]) -> tuple[str, str]:
        params: dict[str, Any] = {**deployment.params}
        params.update(timeout=self.timeout, max_retries=0, num_retries=0, stream=False)
        # litellm's own timeout covers the request; this covers everything around it.
        async with asyncio.timeout(self.timeout + 1):
            response = await litellm.acompletion(
                model=deployment.model, messages=messages, **params
            )
        content = response.choices[0].message.content
        if not isinstance(content, str) or not content.strip():
            raise EmptyCompletion(deployment.name)
        model = str(getattr(response, "model", None) or deployment.model)
        return content, model
