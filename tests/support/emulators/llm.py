"""A local stand-in for the LLM providers: OpenAI chat completions and Anthropic Messages.

One :class:`FakeLLM` serves both wire formats, so a test can point either provider at it:

* OpenAI-compatible: ``POST /v1/chat/completions`` (also ``/chat/completions``), key in
  ``Authorization: Bearer <key>``. With litellm: ``model="openai/<name>", api_base=f"{url}/v1"``.
* Anthropic Messages: ``POST /v1/messages``, key in ``x-api-key``, ``anthropic-version`` header
  required, system prompt as a top-level ``system`` (string or list of text blocks). With
  litellm: ``model="anthropic/<name>", api_base=url``.

Answers, success and error alike, have the providers' real JSON shapes. Every request is
recorded as an :class:`LLMRequest`. Streaming requests are refused with a 400: the bot must not
stream.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web
from multidict import CIMultiDict

from tests.support.emulators.base import Fault, LocalServer, wait_until

Api = Literal["openai", "anthropic"]
ReplyFn = Callable[["LLMRequest"], str | Awaitable[str]]

DEFAULT_REPLY = "This is a fake LLM reply."

# Fault-plan key: one for every request, whichever API it uses.
_FAULT_KEY = "completion"

# OpenAI error ``type``/``code`` per status, as the real API sends them.
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}

# Anthropic error ``type`` per status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass
class LLMRequest:
    """One request the fake received, normalised across the two APIs."""

    api: Api
    path: str
    headers: CIMultiDict[str]
    body: Any
    model: str
    system: str
    messages: list[dict[str, str]]
    user_text: str
    at: float
    status: int | None = None
    """HTTP status answered (``None`` while unanswered or when the connection was dropped)."""
    reply: str | None = None
    """The assistant text sent back, on success."""


def _flatten(content: Any) -> str:
    """Text of a message ``content``: a string, or a list of blocks/parts with ``text``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, dict) and "content" in block:
                parts.append(_flatten(block["content"]))
        return "\n".join(parts)
    return str(content)


def _tokens(text: str) -> int:
    """A rough token count (about four characters a token), never zero."""
    return max(1, math.ceil(len(text) / 4))


def openai_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """An error body shaped like OpenAI's: ``{"error": {"message", "type", "param", "code"}}``."""
    kind, code, default = _OPENAI_ERRORS.get(
        status,
        ("server_error" if status >= 500 else "invalid_request_error", None, _reason(status)),
    )
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def anthropic_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """An error body shaped like Anthropic's: ``{"type": "error", "error": {...}}``."""
    kind, default = _ANTHROPIC_ERRORS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", _reason(status))
    )
    return {
        "type": "error",
        "error": {"type": kind, "message": message or default},
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class FakeLLM(LocalServer):
    """OpenAI chat completions and Anthropic Messages on one local server.

    ``reply_with`` sets the default answer, ``queue_replies`` scripts the next few, ``fail`` /
    ``fail_always`` / ``recover`` script errors, hangs and dropped connections.
    """

    def __init__(self, name: str = "llm") -> None:
        super().__init__()
        self.name = name
        self.requests: list[LLMRequest] = []
        self._default: str | ReplyFn = DEFAULT_REPLY
        self._queued: list[str] = []
        for path in ("/v1/chat/completions", "/chat/completions"):
            self.app.router.add_post(path, self._openai)
        self.app.router.add_post("/v1/messages", self._anthropic)

    # -- scripting -------------------------------------------------------------------------

    def reply_with(self, text_or_fn: str | ReplyFn) -> None:
        """Answer every request with this text, or with ``fn(request)`` (sync or async)."""
        self._default = text_or_fn

    def queue_replies(self, *texts: str) -> None:
        """Answer the next requests with these texts, in order, then fall back to the default."""
        self._queued.extend(texts)

    def fail(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` requests fail with ``fault``.

        Without its own ``json``/``text``, the fault's body is the provider's real error shape.
        """
        self.faults.push(_FAULT_KEY, fault, times)

    def fail_always(self, fault: Fault) -> None:
        """Make every request fail with ``fault`` until :meth:`recover`."""
        self.faults.always(_FAULT_KEY, fault)

    def recover(self) -> None:
        """Forget every scripted fault."""
        self.faults.clear()

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[LLMRequest]:
        """Wait until at least ``n`` requests arrived; return them all."""
        await wait_until(
            lambda: len(self.requests) >= n,
            timeout=timeout,
            message=f"{n} request(s) to {self.name}",
        )
        return list(self.requests)

    # -- handlers --------------------------------------------------------------------------

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("openai", request)

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("anthropic", request)

    async def _handle(self, api: Api, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = await request.json() if raw else None
        except ValueError:
            body = None
        record = self._record(api, request, body)
        self.requests.append(record)
        response = await self._answer(api, request, record)
        record.status = response.status
        return response

    def _record(self, api: Api, request: web.Request, body: Any) -> LLMRequest:
        data = body if isinstance(body, dict) else {}
        raw = data.get("messages")
        raw_messages: list[Any] = raw if isinstance(raw, list) else []
        system_parts: list[str] = []
        if api == "anthropic" and data.get("system") is not None:
            system_parts.append(_flatten(data["system"]))
        messages: list[dict[str, str]] = []
        for message in raw_messages:
            if not isinstance(message, dict):
                continue
            role = str(message.get("role", ""))
            text = _flatten(message.get("content"))
            if role in ("system", "developer"):
                system_parts.append(text)
            else:
                messages.append({"role": role, "content": text})
        user_text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return LLMRequest(
            api=api,
            path=request.path,
            headers=CIMultiDict(request.headers),
            body=body,
            model=str(data.get("model", "")),
            system="\n".join(system_parts),
            messages=messages,
            user_text=user_text,
            at=time.monotonic(),
        )

    def _error(self, api: Api, status: int, message: str | None = None) -> web.Response:
        body = (
            openai_error_body(status, message)
            if api == "openai"
            else anthropic_error_body(status, message)
        )
        return web.json_response(body, status=status, headers=self._id_headers(api))

    @staticmethod
    def _id_headers(api: Api) -> dict[str, str]:
        if api == "openai":
            return {"x-request-id": f"req_{uuid.uuid4().hex}"}
        return {"request-id": f"req_{uuid.uuid4().hex[:24]}"}

    async def _answer(self, api: Api, request: web.Request, record: LLMRequest) -> web.Response:
        fault = self.faults.take(_FAULT_KEY)
        if fault is not None:
            return await self._play(api, request, fault)

        rejection = self._validate(api, request, record)
        if rejection is not None:
            return rejection

        text = await self._next_reply(record)
        record.reply = text
        if api == "openai":
            return web.json_response(self._openai_body(record, text), headers=self._id_headers(api))
        return web.json_response(self._anthropic_body(record, text), headers=self._id_headers(api))

    async def _play(self, api: Api, request: web.Request, fault: Fault) -> web.Response:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("emulated connection drop")
        if fault.json is not None or fault.text is not None:
            return fault.response()
        response = self._error(api, fault.status)
        response.headers.update(fault.headers)
        return response

    def _validate(self, api: Api, request: web.Request, record: LLMRequest) -> web.Response | None:
        """The provider's own rejections: missing key/version, bad body, streaming."""
        body = record.body
        if api == "openai":
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
                return self._error(
                    api,
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                )
        else:
            if not request.headers.get("x-api-key", "").strip():
                return self._error(api, 401, "x-api-key header is required")
            if not request.headers.get("anthropic-version"):
                return self._error(api, 400, "anthropic-version: header is required")
        if not isinstance(body, dict):
            return self._error(api, 400, "The request body is not valid JSON.")
        if not record.model:
            return self._error(api, 400, "model: Field required")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return self._error(api, 400, "messages: Field required")
        if api == "anthropic" and not isinstance(body.get("max_tokens"), int):
            return self._error(api, 400, "max_tokens: Field required")
        if body.get("stream"):
            return self._error(
                api, 400, "stream: streaming is not supported here (the bot must not stream)"
            )
        return None

    async def _next_reply(self, record: LLMRequest) -> str:
        if self._queued:
            return self._queued.pop(0)
        if isinstance(self._default, str):
            return self._default
        result = self._default(record)
        if inspect.isawaitable(result):
            result = await result
        return str(result)

    def _openai_body(self, record: LLMRequest, text: str) -> dict[str, Any]:
        prompt_tokens = _tokens(record.system + "".join(m["content"] for m in record.messages))
        completion_tokens = _tokens(text)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": record.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": None,
        }

    def _anthropic_body(self, record: LLMRequest, text: str) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": record.model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": _tokens(
                    record.system + "".join(m["content"] for m in record.messages)
                ),
                "output_tokens": _tokens(text),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
