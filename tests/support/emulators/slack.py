"""An in-process Slack: Socket Mode over a real websocket plus the Web API, on 127.0.0.1.

The real app (slack_bolt ``AsyncApp`` + ``AsyncSocketModeHandler`` + slack_sdk ``AsyncWebClient``)
runs against it unmodified: point the web client's ``base_url`` at :attr:`SlackEmulator.api_url`,
and ``apps.connections.open`` hands out a ``ws://127.0.0.1:PORT/link/?ticket=...`` URL.

What it mirrors, from the installed slack_sdk/slack_bolt sources and Slack's docs:

* Web API requests as slack_sdk sends them: ``POST``/``GET {api_url}{method}`` with the token in
  ``Authorization: Bearer ...`` (or a ``token`` argument), arguments in the query string, a JSON
  body, or an urlencoded/multipart form whose ``blocks``/``view``/``attachments`` are JSON strings.
* Socket Mode: ``hello`` on connect, each envelope to one open connection (the newest, or with
  ``dispatch = "random"`` one at random, as Slack spreads events over an app's up to 10
  connections), envelopes with per-type fields (only ``events_api`` carries
  ``retry_attempt``/``retry_reason``), acks ``{"envelope_id", "payload"?}``, ``disconnect``
  messages, pongs to the client's ``sdk-ping-pong:<time>`` pings (aiohttp autoping).
* Slack's state for assertions: messages with edit history, ephemerals, modals and home tabs,
  single-use trigger ids that expire after 3 seconds, response_url posts.
* Block Kit limits Slack enforces, answered the way Slack answers them (``invalid_blocks`` for
  messages, ``invalid_arguments`` with ``response_metadata.messages`` for views).

Faults: ``self.faults`` (a :class:`FaultPlan`) is consulted per Web API method name, for
``"link"`` (the websocket upgrade) and for ``"response_url"``; :meth:`fail_method_with_error`
queues Slack-style ``{"ok": false}`` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import random
import secrets
import string
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

from .base import Fault, LocalServer

__all__ = [
    "Ack",
    "ApiCall",
    "Message",
    "SentEnvelope",
    "SlackEmulator",
    "iter_block_elements",
]

JSON = dict[str, Any]
T = TypeVar("T")

#: Arguments Slack accepts as JSON-encoded strings in form bodies.
JSON_STRING_ARGS: Final = frozenset(
    {"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks"}
)
#: How long a trigger id may be exchanged after the interaction that produced it (seconds).
TRIGGER_TTL: Final = 3.0
#: Slack expects an ack within this many seconds.
ACK_DEADLINE: Final = 3.0

_BOT: Final = "bot"
_APP: Final = "app"
_NONE: Final = "none"


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class ApiCall:
    """One Web API request as the emulator received and answered it.

    ``args`` merges query string and body, with JSON-string arguments (``blocks``, ``view``...)
    decoded. ``encoding`` says how the body came: ``"json"``, ``"form"``, ``"multipart"`` or
    ``"query"`` (no body). ``done`` turns true once answered; ``http_status`` is 0 for a dropped
    connection.
    """

    method: str
    args: JSON
    token: str | None
    http_status: int = 0
    response: JSON = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    http_verb: str = "POST"
    encoding: str = "query"
    headers: dict[str, str] = field(default_factory=dict)
    done: bool = False

    @property
    def ok(self) -> bool:
        """Whether Slack would have reported success."""
        return self.http_status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """The Slack ``error`` code of a failed call."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass
class Message:
    """A message as currently stored in a channel (``chat.update`` edits it in place)."""

    channel: str
    ts: str
    text: str
    blocks: list[JSON]
    user: str
    thread_ts: str | None = None
    history: list[tuple[str, list[JSON]]] = field(default_factory=list)
    attachments: list[JSON] = field(default_factory=list)
    metadata: JSON | None = None
    bot_id: str = ""
    app_id: str = ""
    team: str = ""
    edited_ts: str | None = None

    def buttons(self) -> dict[str, str]:
        """Every button in the blocks: ``{action_id: value}`` (value ``""`` when unset)."""
        return {
            str(element.get("action_id", "")): str(element.get("value", ""))
            for _, element in iter_block_elements(self.blocks)
            if element.get("type") == "button"
        }

    def all_text(self) -> str:
        """The top-level text plus every text found in blocks and attachments, newline-joined."""
        parts = [self.text] if self.text else []
        _collect_text(self.blocks, parts)
        _collect_text(self.attachments, parts)
        return "\n".join(parts)

    def to_dict(self) -> JSON:
        """The message object as Slack returns it (in API answers and interaction payloads)."""
        message: JSON = {
            "type": "message",
            "user": self.user,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": self.text,
            "ts": self.ts,
            "team": self.team,
            "blocks": copy.deepcopy(self.blocks),
        }
        if self.attachments:
            message["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            message["metadata"] = copy.deepcopy(self.metadata)
        if self.edited_ts is not None:
            message["edited"] = {"user": self.user, "ts": self.edited_ts}
        return message


@dataclass
class Ack:
    """The app's acknowledgement of an envelope.

    ``payload`` is what the app put in its ack (``None`` for a bare ack); ``latency`` is seconds
    from send to ack. ``received`` is false for an ``Ack`` returned by ``wait_ack=False`` (use
    :meth:`SlackEmulator.wait_ack` to get the real one later).
    """

    envelope_id: str
    payload: JSON | None = None
    latency: float | None = None
    received: bool = False
    envelope: JSON = field(default_factory=dict, repr=False)

    @property
    def in_time(self) -> bool:
        """Whether the ack arrived within Slack's 3-second deadline."""
        return self.latency is not None and self.latency <= ACK_DEADLINE


@dataclass(eq=False)
class SentEnvelope:
    """An envelope the emulator sent, and its ack once it arrives."""

    envelope: JSON
    connection_id: int
    sent_at: float
    ack: Ack | None = None
    future: asyncio.Future[Ack] | None = field(default=None, repr=False)

    @property
    def envelope_id(self) -> str:
        """The envelope's id."""
        return str(self.envelope["envelope_id"])

    @property
    def type(self) -> str:
        """``slash_commands``, ``interactive`` or ``events_api``."""
        return str(self.envelope["type"])

    @property
    def payload(self) -> JSON:
        """The payload delivered to the app."""
        payload: JSON = self.envelope["payload"]
        return payload


@dataclass(eq=False)
class _Connection:
    id: int
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    opened_at: float
    ready: bool = False
    draining: bool = False
    dropped: bool = False

    @property
    def open(self) -> bool:
        return self.ready and not self.dropped and not self.ws.closed


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    view_id: str | None = None
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str
    user_id: str
    message_ts: str | None = None


class _SlackError(Exception):
    """Answer the current request with ``{"ok": false, "error": ...}`` (plus extra fields)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: JSON = {"ok": False, "error": error, **extra}


# --------------------------------------------------------------------------------------------
# Block Kit helpers
# --------------------------------------------------------------------------------------------

_ELEMENT_CONTAINERS: Final = {
    "actions": "elements",
    "context_actions": "elements",
    "section": "accessory",
    "input": "element",
}


def iter_block_elements(blocks: Any) -> Iterator[tuple[JSON, JSON]]:
    """Yield ``(block, element)`` for every interactive element in a list of blocks.

    Covers ``actions``/``context_actions`` elements, section accessories and input elements.
    """
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, dict):
            continue
        key = _ELEMENT_CONTAINERS.get(str(block.get("type")))
        if key is None:
            continue
        found = block.get(key)
        elements = found if isinstance(found, list) else [found]
        for element in elements:
            if isinstance(element, dict):
                yield block, element


def _collect_text(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                out.append(value)
            else:
                _collect_text(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_text(item, out)


_ID_ALPHABET: Final = string.ascii_letters + string.digits


def _random_id(length: int = 5) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _normalize_blocks(blocks: Any) -> list[JSON]:
    """A copy of ``blocks`` with the block_id/action_id Slack generates where they are missing."""
    if not isinstance(blocks, list):
        return []
    result: list[JSON] = copy.deepcopy([b for b in blocks if isinstance(b, dict)])
    used = {b["block_id"] for b in result if isinstance(b.get("block_id"), str)}
    for block in result:
        if not isinstance(block.get("block_id"), str):
            new_id = _random_id()
            while new_id in used:
                new_id = _random_id()
            used.add(new_id)
            block["block_id"] = new_id
    for _, element in iter_block_elements(result):
        interactive = element.get("type") not in (None, "image")
        if interactive and not isinstance(element.get("action_id"), str):
            element["action_id"] = _random_id()
    return result


class _Problems:
    """Block Kit validation problems, worded like Slack's (``... [json-pointer:/blocks/0]``)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str, pointer: str) -> None:
        self.items.append(f"{message} [json-pointer:{pointer}]")

    def max_len(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", pointer)

    def max_items(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.add(f"must be less than {limit + 1} items", pointer)

    def text(self, obj: Any, limit: int, pointer: str, *, plain_only: bool = False) -> None:
        """Check a text object: type, non-empty, at most ``limit`` characters."""
        if obj is None:
            return
        if not isinstance(obj, dict):
            self.add("must be an object", pointer)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.add(f"must be one of {', '.join(allowed)}", f"{pointer}/type")
        value = obj.get("text")
        if not isinstance(value, str):
            self.add("must be a string", f"{pointer}/text")
        elif not value:
            self.add("must be more than 0 characters", f"{pointer}/text")
        else:
            self.max_len(value, limit, f"{pointer}/text")


_OPTION_LIMITS: Final = {
    "static_select": 100,
    "multi_static_select": 100,
    "checkboxes": 10,
    "radio_buttons": 10,
    "overflow": 5,
}
_TEXT_INPUTS: Final = ("plain_text_input",)


def _validate_option(problems: _Problems, option: Any, pointer: str, *, plain_only: bool) -> None:
    if not isinstance(option, dict):
        problems.add("must be an object", pointer)
        return
    problems.text(option.get("text"), 75, f"{pointer}/text", plain_only=plain_only)
    problems.max_len(option.get("value"), 150, f"{pointer}/value")
    problems.text(option.get("description"), 75, f"{pointer}/description")


def _validate_element(problems: _Problems, element: JSON, pointer: str) -> None:
    kind = element.get("type")
    problems.max_len(element.get("action_id"), 255, f"{pointer}/action_id")
    problems.text(element.get("placeholder"), 150, f"{pointer}/placeholder", plain_only=True)
    if kind == "button":
        problems.text(element.get("text"), 75, f"{pointer}/text", plain_only=True)
        problems.max_len(element.get("value"), 2000, f"{pointer}/value")
        problems.max_len(element.get("url"), 3000, f"{pointer}/url")
    elif kind in _OPTION_LIMITS:
        plain_only = kind in ("static_select", "multi_static_select", "overflow")
        options = element.get("options")
        problems.max_items(options, _OPTION_LIMITS[str(kind)], f"{pointer}/options")
        if isinstance(options, list):
            for i, option in enumerate(options):
                _validate_option(problems, option, f"{pointer}/options/{i}", plain_only=plain_only)
        groups = element.get("option_groups")
        problems.max_items(groups, 100, f"{pointer}/option_groups")
        if isinstance(groups, list):
            for g, group in enumerate(groups):
                if not isinstance(group, dict):
                    continue
                gp = f"{pointer}/option_groups/{g}"
                problems.text(group.get("label"), 75, f"{gp}/label", plain_only=True)
                group_options = group.get("options")
                problems.max_items(group_options, 100, f"{gp}/options")
                for i, option in enumerate(group_options or []):
                    _validate_option(problems, option, f"{gp}/options/{i}", plain_only=True)
    elif kind in _TEXT_INPUTS:
        max_length = element.get("max_length")
        if isinstance(max_length, int) and max_length > 3000:
            problems.add("must be less than 3001", f"{pointer}/max_length")
        min_length = element.get("min_length")
        if isinstance(min_length, int) and min_length > 3000:
            problems.add("must be less than 3001", f"{pointer}/min_length")
        limit = max_length if isinstance(max_length, int) and max_length <= 3000 else 3000
        problems.max_len(element.get("initial_value"), limit, f"{pointer}/initial_value")


def _validate_blocks(
    problems: _Problems, blocks: Any, pointer: str, max_blocks: int, *, action_id_scope: str
) -> None:
    """Check a list of blocks against Slack's limits, adding what Slack would refuse."""
    if not isinstance(blocks, list):
        problems.add("must be an array", pointer)
        return
    problems.max_items(blocks, max_blocks, pointer)
    block_ids: set[str] = set()
    surface_action_ids: set[str] = set()
    for index, block in enumerate(blocks):
        bp = f"{pointer}/{index}"
        if not isinstance(block, dict):
            problems.add("must be an object", bp)
            continue
        kind = block.get("type")
        if not isinstance(kind, str) or not kind:
            problems.add("missing required field: type", bp)
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id:
                problems.add("must be a non-empty string", f"{bp}/block_id")
            else:
                problems.max_len(block_id, 255, f"{bp}/block_id")
                if block_id in block_ids:
                    problems.add(f"duplicate block_id: {block_id}", f"{bp}/block_id")
                block_ids.add(block_id)
        if kind == "section":
            problems.text(block.get("text"), 3000, f"{bp}/text")
            fields = block.get("fields")
            problems.max_items(fields, 10, f"{bp}/fields")
            if isinstance(fields, list):
                for i, item in enumerate(fields):
                    problems.text(item, 2000, f"{bp}/fields/{i}")
            if block.get("text") is None and not fields:
                problems.add("must provide either text or fields", bp)
        elif kind == "header":
            problems.text(block.get("text"), 150, f"{bp}/text", plain_only=True)
        elif kind == "actions":
            problems.max_items(block.get("elements"), 25, f"{bp}/elements")
        elif kind == "context":
            elements = block.get("elements")
            problems.max_items(elements, 10, f"{bp}/elements")
            if isinstance(elements, list):
                for i, item in enumerate(elements):
                    if isinstance(item, dict) and item.get("type") in ("plain_text", "mrkdwn"):
                        problems.text(item, 3000, f"{bp}/elements/{i}")
        elif kind == "input":
            problems.text(block.get("label"), 2000, f"{bp}/label", plain_only=True)
            problems.text(block.get("hint"), 2000, f"{bp}/hint", plain_only=True)
        elif kind == "image":
            problems.max_len(block.get("image_url"), 3000, f"{bp}/image_url")
            problems.max_len(block.get("alt_text"), 2000, f"{bp}/alt_text")
            problems.text(block.get("title"), 2000, f"{bp}/title", plain_only=True)
        elif kind == "markdown":
            problems.max_len(block.get("text"), 12000, f"{bp}/text")
        block_action_ids: set[str] = set()
        container = _ELEMENT_CONTAINERS.get(kind)
        found = block.get(container) if container else None
        elements = found if isinstance(found, list) else [found]
        for e_index, element in enumerate(elements):
            if not isinstance(element, dict):
                continue
            ep = f"{bp}/{container}" + (f"/{e_index}" if isinstance(found, list) else "")
            _validate_element(problems, element, ep)
            action_id = element.get("action_id")
            if isinstance(action_id, str):
                seen = surface_action_ids if action_id_scope == "surface" else block_action_ids
                if action_id in seen:
                    problems.add(f"duplicate action_id: {action_id}", f"{ep}/action_id")
                seen.add(action_id)


def _flag(value: Any) -> bool:
    """Slack's truthiness for boolean arguments (JSON booleans or form strings)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _element_state(element: JSON) -> JSON:
    """The ``state.values`` entry Slack reports for an input element the user did not touch."""
    kind = str(element.get("type", ""))
    state: JSON = {"type": kind}
    if kind in (
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
    ):
        state["value"] = element.get("initial_value")
    elif kind in ("static_select", "external_select", "radio_buttons"):
        state["selected_option"] = element.get("initial_option")
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        state["selected_options"] = element.get("initial_options", [])
    elif kind == "users_select":
        state["selected_user"] = element.get("initial_user")
    elif kind == "multi_users_select":
        state["selected_users"] = element.get("initial_users", [])
    elif kind == "conversations_select":
        state["selected_conversation"] = element.get("initial_conversation")
    elif kind == "channels_select":
        state["selected_channel"] = element.get("initial_channel")
    elif kind == "datepicker":
        state["selected_date"] = element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = element.get("initial_time")
    return state


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------

_MethodHandler = Callable[[JSON], JSON]


class SlackEmulator(LocalServer):
    """Slack's Web API and Socket Mode, served on 127.0.0.1 for offline end-to-end tests."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = "socialpost-test"
        self.team_name = "Socialpost Test"
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = "socialpost"
        #: The legacy verification token Slack puts in every payload.
        self.verification_token = "vErIfIcAtIoNtOkEn"
        #: Seconds a trigger id stays exchangeable (set to 0 to make every trigger expired).
        self.trigger_ttl: float = TRIGGER_TTL
        #: ``"block"`` (Slack's documented rule) or ``"surface"``: where action_ids must be unique.
        self.action_id_scope = "block"
        #: Which open connection gets an envelope: ``"newest"``, or ``"random"`` (Slack's way
        #: with several connections, one per bot process).
        self.dispatch = "newest"
        #: Seconds to wait for an ack unless a call says otherwise. Slack's own limit is 3 s;
        #: a test may give a bot more (a freshly spawned process on a loaded machine).
        self.ack_timeout = 5.0
        self.random = random.Random()

        # Web API records
        self.calls: list[ApiCall] = []
        #: Called with every Web API call as it arrives (before it is answered): a benchmark
        #: with many waiters notes arrivals once instead of each waiter scanning every call.
        self.call_observers: list[Callable[[ApiCall], None]] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.deleted_messages: list[Message] = []
        self.ephemerals: list[JSON] = []
        self.views: dict[str, JSON] = {}
        self.home_views: dict[str, JSON] = {}
        self.closed_views: set[str] = set()
        self.response_url_posts: list[JSON] = []
        self.users: dict[str, JSON] = {}
        self.channels: dict[str, str] = {"C0GENERAL": "general"}
        #: User groups by id: ``{"id", "handle", "users"}`` (``usergroups.users.list``).
        self.usergroups: dict[str, JSON] = {}

        # Socket Mode records
        self.connection_opens = 0
        self.websocket_accepts = 0
        self.envelopes: list[SentEnvelope] = []
        self.acks: dict[str, Ack] = {}
        self.client_messages: list[JSON] = []

        self._slack_errors: dict[str, list[tuple[str, int | None]]] = {}
        self._connections: list[_Connection] = []
        self._connection_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._ts_base = int(time.time())
        self._ts_counter = 0
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._envelopes_by_id: dict[str, SentEnvelope] = {}
        self._changed_event = asyncio.Event()

        self._methods: dict[str, tuple[str, _MethodHandler]] = {
            "api.test": (_NONE, self._api_test),
            "auth.test": (_BOT, self._auth_test),
            "apps.connections.open": (_APP, self._apps_connections_open),
            "chat.postMessage": (_BOT, self._chat_post_message),
            "chat.update": (_BOT, self._chat_update),
            "chat.delete": (_BOT, self._chat_delete),
            "chat.postEphemeral": (_BOT, self._chat_post_ephemeral),
            "chat.getPermalink": (_BOT, self._chat_get_permalink),
            "conversations.open": (_BOT, self._conversations_open),
            "users.info": (_BOT, self._users_info),
            "usergroups.users.list": (_BOT, self._usergroups_users_list),
            "views.open": (_BOT, self._views_open),
            "views.push": (_BOT, self._views_push),
            "views.update": (_BOT, self._views_update),
            "views.publish": (_BOT, self._views_publish),
        }

        self.app.router.add_route("*", "/api/{method}", self._handle_api)
        self.app.router.add_get("/link/", self._handle_link)
        self.app.router.add_get("/link", self._handle_link)
        self.app.router.add_post("/response_url/{key}", self._handle_response_url)

    # ------------------------------------------------------------------ lifecycle & plumbing

    @property
    def api_url(self) -> str:
        """The Web API base URL (``SLACK_API_URL`` / ``AsyncWebClient(base_url=...)``)."""
        return f"{self.url}/api/"

    async def stop(self) -> None:
        """Close every websocket (abort it if the client does not answer), then stop serving."""
        for conn in list(self._connections):
            conn.dropped = True
            try:
                async with asyncio.timeout(0.5):
                    await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
            except (TimeoutError, ConnectionError, RuntimeError):
                if conn.transport is not None:
                    conn.transport.abort()
        self._connections.clear()
        for sent in self.envelopes:
            if sent.future is not None and not sent.future.done():
                sent.future.cancel()
        await super().stop()

    def _changed(self) -> None:
        """Wake everything waiting in :meth:`_wait_for`."""
        self._changed_event.set()
        self._changed_event = asyncio.Event()

    async def _wait_for(self, check: Callable[[], T | None], limit: float, what: str) -> T:
        """Return ``check()`` once it is not ``None``, re-checking on every state change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {limit}s waiting for {what}")
            event = self._changed_event
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0E{next(self._ids):07X}"

    def _next_ts(self) -> str:
        """A unique, increasing, Slack-shaped timestamp such as ``1700000000.000100``."""
        self._ts_counter += 100
        seconds, micros = divmod(self._ts_counter, 1_000_000)
        return f"{self._ts_base + seconds}.{micros:06d}"

    # ------------------------------------------------------------------ test-facing registry

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
    ) -> None:
        """Register a workspace member (``users.info`` and payloads use these names)."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name or name.title(),
            "is_bot": False,
            "deleted": False,
            "profile": {
                "display_name": display_name if display_name is not None else name,
                "real_name": real_name or name.title(),
            },
        }

    def add_usergroup(
        self, group_id: str, members: Iterable[str], *, handle: str | None = None
    ) -> None:
        """Register a user group (``S...``) and its members."""
        self.usergroups[group_id] = {
            "id": group_id,
            "team_id": self.team_id,
            "handle": handle or group_id.lower(),
            "users": list(dict.fromkeys(members)),
        }

    def remove_usergroup(self, group_id: str) -> None:
        """Delete a user group: ``usergroups.users.list`` answers ``no_such_subteam``."""
        self.usergroups.pop(group_id, None)

    async def change_usergroup_members(
        self, group_id: str, members: Iterable[str], *, notify: bool = True
    ) -> Ack | None:
        """Give the group new members; with ``notify``, deliver the
        ``subteam_members_changed`` event Slack sends (the delta only, as Slack does)."""
        group = self.usergroups[group_id]
        before: list[str] = list(group["users"])
        after = list(dict.fromkeys(members))
        group["users"] = after
        self._changed()
        if not notify:
            return None
        added = [user for user in after if user not in before]
        removed = [user for user in before if user not in after]
        now = time.time()
        event: JSON = {
            "type": "subteam_members_changed",
            "subteam_id": group_id,
            "team_id": self.team_id,
            "date_previous_update": int(now) - 1,
            "date_update": int(now),
            "added_users": added,
            "added_users_count": str(len(added)),
            "removed_users": removed,
            "removed_users_count": str(len(removed)),
            "event_ts": f"{now:.6f}",
        }
        return await self.send_event(event)

    def add_channel(self, channel_id: str, name: str) -> None:
        """Register a channel name (used in payloads' ``channel_name``/``channel.name``)."""
        self.channels[channel_id] = name

    def user_name(self, user_id: str) -> str:
        """The member's handle: registered name, else the id lower-cased."""
        user = self.users.get(user_id)
        return str(user["name"]) if user else user_id.lower()

    def channel_name(self, channel_id: str) -> str:
        """The channel's name as Slack puts it in payloads."""
        if channel_id.startswith("D"):
            return "directmessage"
        return self.channels.get(channel_id, channel_id.lower())

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the app's DM channel with ``user_id`` (``D<userid>``)."""
        return f"D{user_id}"

    def _resolve_channel(self, channel: str) -> str:
        """chat.postMessage accepts a user id and posts into the DM with that user."""
        if channel[:1] in ("U", "W"):
            return self.dm_channel(channel)
        return channel

    def issue_trigger_id(self, user_id: str, *, view_id: str | None = None) -> str:
        """A fresh trigger id, valid for ``trigger_ttl`` seconds and one exchange."""
        trigger_id = f"{next(self._ids)}{secrets.randbelow(10**6):06d}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user_id, time.monotonic(), view_id)
        return trigger_id

    def expire_trigger_ids(self) -> None:
        """Make every trigger id issued so far expired (as if 3 seconds had passed)."""
        for trigger in self._triggers.values():
            trigger.issued_at = float("-inf")

    def issue_response_url(self, channel: str, user_id: str, message_ts: str | None = None) -> str:
        """A response_url pointing at the emulator, tied to a channel (and message)."""
        key = secrets.token_urlsafe(12)
        self._response_urls[key] = _ResponseUrl(channel, user_id, message_ts)
        return f"{self.url}/response_url/{key}"

    # ------------------------------------------------------------------ queries & waits

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every call to ``method``, in arrival order."""
        return [call for call in self.calls if call.method == method]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int = 0,
        answered: bool = True,
    ) -> ApiCall:
        """The first answered call to ``method`` at index ``>= after`` matching ``predicate``
        (with ``answered=False``: the first one received, answered or not)."""

        def check() -> ApiCall | None:
            for call in self.calls[after:]:
                done = call.done or not answered
                if done and call.method == method and (predicate is None or predicate(call)):
                    return call
            return None

        return await self._wait_for(check, timeout, f"a {method} call")

    def channel_messages(self, channel: str) -> list[Message]:
        """Messages (thread replies included) currently in ``channel``, in post order.

        ``channel`` may be a user id, meaning the DM with that user.
        """
        channel = self._resolve_channel(channel)
        return [m for (c, _), m in self.messages.items() if c == channel]

    def thread_replies(self, channel: str, thread_ts: str) -> list[Message]:
        """Replies posted in the thread of ``thread_ts``, in post order."""
        return [m for m in self.channel_messages(channel) if m.thread_ts == thread_ts]

    # ------------------------------------------------------------------ fault injection

    def fail_method(self, method: str, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` fail at HTTP level (status, drop, delay)."""
        self.faults.push(method, fault, times)

    def fail_method_with_error(
        self, method: str, error: str, times: int = 1, *, retry_after: int | None = None
    ) -> None:
        """Make the next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}``.

        ``"ratelimited"`` is answered like Slack does: HTTP 429 with ``Retry-After`` (default 1).
        """
        self._slack_errors.setdefault(method, []).extend([(error, retry_after)] * times)

    # ------------------------------------------------------------------ Web API: transport

    async def _read_request(self, request: web.Request) -> tuple[JSON, str | None, str, str | None]:
        """Decode a Web API request: (args, token, encoding, parse error)."""
        args: JSON = dict(request.query)
        encoding = "query"
        problem: str | None = None
        if request.method == "POST" and request.body_exists:
            content_type = request.content_type
            if content_type == "application/json":
                encoding = "json"
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    args.update(body)
                else:
                    problem = "invalid_json"
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                encoding = "form" if content_type.endswith("urlencoded") else "multipart"
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        args[key] = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "content": value.file.read(),
                        }
                    else:
                        args[key] = value
            else:
                problem = "invalid_post_type"
        for key in JSON_STRING_ARGS:
            encoded = args.get(key)
            if isinstance(encoded, str):
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(encoded)
        token: str | None = None
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip() or None
        form_token = args.pop("token", None)
        if token is None and isinstance(form_token, str) and form_token:
            token = form_token
        return args, token, encoding, problem

    def _check_token(self, kind: str, token: str | None) -> None:
        if kind == _NONE:
            return
        if not token:
            raise _SlackError("not_authed")
        expected, other = (
            (self.bot_token, self.app_token) if kind == _BOT else (self.app_token, self.bot_token)
        )
        if token == expected:
            return
        if token == other:
            raise _SlackError("not_allowed_token_type")
        raise _SlackError("invalid_auth")

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args, token, encoding, problem = await self._read_request(request)
        call = ApiCall(
            method=method,
            args=args,
            token=token,
            http_verb=request.method,
            encoding=encoding,
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        )
        self.calls.append(call)
        for observer in self.call_observers:
            observer(call)
        self._changed()

        fault_response, dropped = await self._play_fault(method, request)
        if dropped:
            self._finish(call, 0, {})
        if fault_response is not None:
            if dropped:
                return fault_response
            assert isinstance(fault_response, web.Response)
            try:
                recorded = json.loads(fault_response.text or "null")
            except ValueError:
                recorded = {"text": fault_response.text}
            body = recorded if isinstance(recorded, dict) else {"body": recorded}
            self._finish(call, fault_response.status, body)
            return fault_response

        queued = self._slack_errors.get(method)
        if queued:
            error, retry_after = queued.pop(0)
            if error == "ratelimited":
                headers = {"Retry-After": str(retry_after if retry_after is not None else 1)}
                return self._answer(call, {"ok": False, "error": "ratelimited"}, 429, headers)
            return self._answer(call, {"ok": False, "error": error})

        if problem is not None:
            return self._answer(call, {"ok": False, "error": problem})
        entry = self._methods.get(method)
        if entry is None:
            return self._answer(call, {"ok": False, "error": "unknown_method"})
        kind, handler = entry
        try:
            self._check_token(kind, token)
            body = handler(args)
        except _SlackError as exc:
            body = exc.body
        except Exception as exc:  # an emulator bug or an argument shape it does not expect
            body = {"ok": False, "error": "fatal_error", "emulator_exception": repr(exc)}
            return self._answer(call, body, 500)
        return self._answer(call, body)

    async def _play_fault(
        self, key: str, request: web.Request
    ) -> tuple[web.StreamResponse | None, bool]:
        """The scripted fault's answer for ``key`` (or ``None``), and whether it was a drop.

        A drop has already aborted the transport; the placeholder returned for it is never
        delivered (aiohttp quietly fails to send it) instead of a traceback being logged.
        """
        try:
            return await self.faults.apply(key, request), False
        except ConnectionResetError:
            return web.Response(status=204), True

    def _finish(self, call: ApiCall, status: int, body: JSON) -> None:
        call.http_status = status
        call.response = body
        call.done = True
        self._changed()

    def _answer(
        self, call: ApiCall, body: JSON, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        self._finish(call, status, body)
        return web.json_response(body, status=status, headers=headers)

    # ------------------------------------------------------------------ Web API: validation

    def _message_content(self, args: JSON, *, previous: Message | None = None) -> tuple[str, Any]:
        """Validate text/blocks of a message; return (text, normalized blocks)."""
        text_arg = args.get("text", args.get("markdown_text"))
        if text_arg is None and previous is not None:
            text_arg = previous.text
        text = "" if text_arg is None else str(text_arg)
        if "blocks" in args:
            blocks = args["blocks"]
        else:
            blocks = previous.blocks if previous is not None else None
        if isinstance(blocks, str):
            raise _SlackError("invalid_blocks_format")
        attachments = args.get("attachments")
        if attachments is None and previous is not None:
            attachments = previous.attachments
        if not text and not blocks and not attachments:
            raise _SlackError("no_text")
        if len(text) > 40000:
            raise _SlackError("msg_too_long")
        if blocks is not None and "blocks" in args:
            problems = _Problems()
            _validate_blocks(problems, blocks, "/blocks", 50, action_id_scope=self.action_id_scope)
            if problems.items:
                raise _SlackError(
                    "invalid_blocks",
                    errors=problems.items,
                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems.items]},
                )
            blocks = _normalize_blocks(blocks)
        return text, blocks

    def _checked_view(self, view: Any, expected_type: str) -> JSON:
        """Validate a view payload like Slack; raise ``invalid_arguments`` with its messages."""
        problems = _Problems()
        if not isinstance(view, dict):
            problems.add("must be an object", "/view")
            raise self._invalid_arguments(problems)
        if view.get("type") != expected_type:
            problems.add(f"must be {expected_type}", "/view/type")
        if expected_type == "modal":
            if view.get("title") is None:
                problems.add("missing required field: title", "/view")
            problems.text(view.get("title"), 24, "/view/title", plain_only=True)
            problems.text(view.get("submit"), 24, "/view/submit", plain_only=True)
            problems.text(view.get("close"), 24, "/view/close", plain_only=True)
            blocks = view.get("blocks")
            has_input = isinstance(blocks, list) and any(
                isinstance(b, dict) and b.get("type") == "input" for b in blocks
            )
            if has_input and view.get("submit") is None:
                problems.add("must provide a submit property when using input blocks", "/view")
        problems.max_len(view.get("callback_id"), 255, "/view/callback_id")
        problems.max_len(view.get("private_metadata"), 3000, "/view/private_metadata")
        problems.max_len(view.get("external_id"), 255, "/view/external_id")
        _validate_blocks(
            problems,
            view.get("blocks", []),
            "/view/blocks",
            100,
            action_id_scope=self.action_id_scope,
        )
        if problems.items:
            raise self._invalid_arguments(problems)
        return view

    @staticmethod
    def _invalid_arguments(problems: _Problems) -> _SlackError:
        return _SlackError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] {p}" for p in problems.items]},
        )

    def _exchange_trigger(self, args: JSON) -> _Trigger:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger_id:
            problems = _Problems()
            problems.add("missing required field: trigger_id", "/trigger_id")
            raise self._invalid_arguments(problems)
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise _SlackError("invalid_trigger_id")
        if trigger.used:
            raise _SlackError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued_at > self.trigger_ttl:
            raise _SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _stored_view(
        self,
        view: JSON,
        view_id: str,
        *,
        previous_view_id: str | None = None,
        root_view_id: str | None = None,
    ) -> JSON:
        """The view object as Slack stores and returns it."""
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": _normalize_blocks(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": copy.deepcopy(view.get("title")),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "clear_on_close": _flag(view.get("clear_on_close", False)),
            "notify_on_close": _flag(view.get("notify_on_close", False)),
            "external_id": view.get("external_id", ""),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _find_view(self, args: JSON) -> tuple[JSON, str | None]:
        """The stored view targeted by view_id/external_id, and its home-tab owner if any."""
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        candidates: list[tuple[JSON, str | None]] = [(v, None) for v in self.views.values()]
        candidates += [(v, user) for user, v in self.home_views.items()]
        for stored, owner in candidates:
            if view_id and stored["id"] == view_id:
                return stored, owner
            if external_id and stored.get("external_id") == external_id:
                return stored, owner
        raise _SlackError("not_found")

    # ------------------------------------------------------------------ Web API: methods

    def _api_test(self, args: JSON) -> JSON:
        if "error" in args:
            raise _SlackError(str(args["error"]), args=args)
        return {"ok": True, "args": args}

    def _auth_test(self, args: JSON) -> JSON:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: JSON) -> JSON:
        self.connection_opens += 1
        ticket = uuid.uuid4()
        url = f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"
        return {"ok": True, "url": url}

    def _chat_post_message(self, args: JSON) -> JSON:
        channel = args.get("channel")
        if not channel:
            raise _SlackError("channel_not_found")
        channel_id = self._resolve_channel(str(channel))
        text, blocks = self._message_content(args)
        thread_ts = args.get("thread_ts") or None
        attachments = args.get("attachments") or []
        message = Message(
            channel=channel_id,
            ts=self._next_ts(),
            text=text,
            blocks=blocks or [],
            user=self.bot_user_id,
            thread_ts=str(thread_ts) if thread_ts else None,
            attachments=attachments if isinstance(attachments, list) else [],
            metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
            bot_id=self.bot_id,
            app_id=self.app_id,
            team=self.team_id,
        )
        self.messages[(channel_id, message.ts)] = message
        return {"ok": True, "channel": channel_id, "ts": message.ts, "message": message.to_dict()}

    def _chat_update(self, args: JSON) -> JSON:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        message = self.messages.get((channel, ts))
        if message is None:
            raise _SlackError("message_not_found")
        text, blocks = self._message_content(args, previous=message)
        message.history.append((message.text, message.blocks))
        message.text = text
        message.blocks = blocks or []
        if "attachments" in args and isinstance(args["attachments"], list):
            message.attachments = args["attachments"]
        message.edited_ts = self._next_ts()
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.text,
            "message": message.to_dict(),
        }

    def _chat_delete(self, args: JSON) -> JSON:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        message = self.messages.pop((channel, ts), None)
        if message is None:
            raise _SlackError("message_not_found")
        self.deleted_messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: JSON) -> JSON:
        channel, user = args.get("channel"), args.get("user")
        if not channel:
            raise _SlackError("channel_not_found")
        if not user:
            raise _SlackError("user_not_found")
        text, blocks = self._message_content(args)
        message_ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": self._resolve_channel(str(channel)),
                "user": str(user),
                "text": text,
                "blocks": blocks or [],
                "thread_ts": args.get("thread_ts"),
                "message_ts": message_ts,
            }
        )
        return {"ok": True, "message_ts": message_ts}

    def _chat_get_permalink(self, args: JSON) -> JSON:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if (channel, ts) not in self.messages:
            raise _SlackError("message_not_found")
        archive = f"https://{self.team_domain}.slack.com/archives/{channel}"
        return {"ok": True, "channel": channel, "permalink": f"{archive}/p{ts.replace('.', '')}"}

    def _conversations_open(self, args: JSON) -> JSON:
        channel = args.get("channel")
        users = args.get("users")
        if channel:
            return {"ok": True, "channel": {"id": str(channel)}}
        if isinstance(users, list):
            user_ids = [str(u) for u in users]
        else:
            user_ids = [u.strip() for u in str(users or "").split(",") if u.strip()]
        if not user_ids:
            raise _SlackError("users_list_not_supplied")
        if len(user_ids) > 1:
            channel_id = "G" + "".join(sorted(user_ids))
        else:
            channel_id = self.dm_channel(user_ids[0])
        answer: JSON = {"ok": True, "channel": {"id": channel_id}}
        if _flag(args.get("return_im", False)):
            answer["channel"].update({"is_im": len(user_ids) == 1, "user": user_ids[0]})
        return answer

    def _users_info(self, args: JSON) -> JSON:
        user_id = str(args.get("user") or "")
        if user_id == self.bot_user_id:
            name = self.bot_name
            user: JSON = {
                "id": user_id,
                "team_id": self.team_id,
                "name": name,
                "real_name": name,
                "is_bot": True,
                "deleted": False,
                "profile": {"display_name": name, "real_name": name, "bot_id": self.bot_id},
            }
        elif user_id in self.users:
            user = copy.deepcopy(self.users[user_id])
        elif user_id[:1] in ("U", "W"):
            name = user_id.lower()
            user = {
                "id": user_id,
                "team_id": self.team_id,
                "name": name,
                "real_name": name,
                "is_bot": False,
                "deleted": False,
                "profile": {"display_name": name, "real_name": name},
            }
        else:
            raise _SlackError("user_not_found")
        return {"ok": True, "user": user}

    def _usergroups_users_list(self, args: JSON) -> JSON:
        group_id = args.get("usergroup")
        if not isinstance(group_id, str) or not group_id:
            raise _SlackError("invalid_arguments")
        group = self.usergroups.get(group_id)
        if group is None:
            raise _SlackError("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}

    def _views_open(self, args: JSON) -> JSON:
        view = self._checked_view(args.get("view"), "modal")
        self._exchange_trigger(args)
        stored = self._stored_view(view, self._next_id("V"))
        self.views[stored["id"]] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_push(self, args: JSON) -> JSON:
        view = self._checked_view(args.get("view"), "modal")
        trigger = self._exchange_trigger(args)
        parent = self.views.get(trigger.view_id or "")
        root_id = parent["root_view_id"] if parent else None
        if root_id is not None:
            stack = [
                v
                for v in self.views.values()
                if v["root_view_id"] == root_id and v["id"] not in self.closed_views
            ]
            if len(stack) >= 3:
                raise _SlackError("push_limit_reached")
        view_id = self._next_id("V")
        stored = self._stored_view(
            view,
            view_id,
            previous_view_id=parent["id"] if parent else None,
            root_view_id=root_id,
        )
        self.views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_update(self, args: JSON) -> JSON:
        if not args.get("view_id") and not args.get("external_id"):
            problems = _Problems()
            problems.add("missing required field: view_id", "/view_id")
            raise self._invalid_arguments(problems)
        current, owner = self._find_view(args)
        view = self._checked_view(args.get("view"), str(current["type"]))
        expected_hash = args.get("hash")
        if expected_hash and expected_hash != current["hash"]:
            raise _SlackError("hash_conflict")
        stored = self._stored_view(
            view,
            current["id"],
            previous_view_id=current.get("previous_view_id"),
            root_view_id=current.get("root_view_id"),
        )
        if owner is not None:
            self.home_views[owner] = stored
        else:
            self.views[stored["id"]] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_publish(self, args: JSON) -> JSON:
        user_id = args.get("user_id")
        if not user_id:
            problems = _Problems()
            problems.add("missing required field: user_id", "/user_id")
            raise self._invalid_arguments(problems)
        view = self._checked_view(args.get("view"), "home")
        current = self.home_views.get(str(user_id))
        expected_hash = args.get("hash")
        if current is not None and expected_hash and expected_hash != current["hash"]:
            raise _SlackError("hash_conflict")
        view_id = current["id"] if current is not None else self._next_id("V")
        stored = self._stored_view(view, view_id)
        self.home_views[str(user_id)] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    # ------------------------------------------------------------------ response_url

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        """Record a POST to a response_url and apply it like Slack (replace/delete/in_channel)."""
        try:
            body = await request.json()
        except ValueError:
            form = await request.post()
            raw = form.get("payload")
            body = json.loads(raw) if isinstance(raw, str) else {}
        body = body if isinstance(body, dict) else {}
        self.response_url_posts.append(body)
        self._changed()
        fault_response, _ = await self._play_fault("response_url", request)
        if fault_response is not None:
            return fault_response
        context = self._response_urls.get(request.match_info["key"])
        if context is None:
            return web.Response(status=404, text="no_active_hooks")
        if isinstance(body.get("blocks"), list):
            problems = _Problems()
            _validate_blocks(
                problems, body["blocks"], "/blocks", 50, action_id_scope=self.action_id_scope
            )
            if problems.items:
                return web.Response(status=400, text="invalid_blocks")
        original = (
            self.messages.get((context.channel, context.message_ts)) if context.message_ts else None
        )
        if _flag(body.get("delete_original", False)):
            if original is not None:
                del self.messages[(original.channel, original.ts)]
                self.deleted_messages.append(original)
        elif _flag(body.get("replace_original", False)) and original is not None:
            original.history.append((original.text, original.blocks))
            original.text = str(body.get("text", ""))
            original.blocks = _normalize_blocks(body.get("blocks", []))
            original.edited_ts = self._next_ts()
        elif body.get("response_type") == "in_channel":
            message = Message(
                channel=context.channel,
                ts=self._next_ts(),
                text=str(body.get("text", "")),
                blocks=_normalize_blocks(body.get("blocks", [])),
                user=self.bot_user_id,
                thread_ts=body.get("thread_ts"),
                bot_id=self.bot_id,
                app_id=self.app_id,
                team=self.team_id,
            )
            self.messages[(message.channel, message.ts)] = message
        self._changed()
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Socket Mode

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        """The Socket Mode websocket: hello, then acks in, envelopes out."""
        fault_response, _ = await self._play_fault("link", request)
        if fault_response is not None:
            return fault_response
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = _Connection(next(self._connection_ids), ws, request.transport, time.monotonic())
        self._connections.append(conn)
        self.websocket_accepts += 1
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": sum(1 for c in self._connections if not c.dropped),
                    "debug_info": {
                        "host": "applink-emulator",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            conn.ready = True
            self._changed()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_text(conn, msg.data)
        except (ConnectionError, RuntimeError):
            pass  # the client vanished mid-send; the finally block forgets the connection
        finally:
            conn.dropped = True
            if conn in self._connections:
                self._connections.remove(conn)
            self._changed()
        return ws

    def _on_client_text(self, conn: _Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        self.client_messages.append(message)
        envelope_id = message.get("envelope_id")
        if not isinstance(envelope_id, str):
            return
        sent = self._envelopes_by_id.get(envelope_id)
        payload = message.get("payload")
        ack = Ack(
            envelope_id=envelope_id,
            payload=payload if isinstance(payload, dict) else None,
            latency=time.monotonic() - sent.sent_at if sent is not None else None,
            received=True,
            envelope=sent.envelope if sent is not None else {},
        )
        self.acks.setdefault(envelope_id, ack)
        if sent is not None and sent.ack is None:
            sent.ack = ack
            if sent.future is not None and not sent.future.done():
                sent.future.set_result(ack)
        self._changed()

    def _newest_connection(self) -> _Connection | None:
        for conn in reversed(self._connections):
            if conn.open and not conn.draining:
                return conn
        return None

    def _routable(self) -> list[_Connection]:
        """The connections Slack would route an envelope to."""
        return [conn for conn in self._connections if conn.open and not conn.draining]

    @property
    def connection_ids(self) -> list[int]:
        """The ids of the connections envelopes may go to, oldest first."""
        return [conn.id for conn in self._routable()]

    def _pick_connection(self, connection_id: int | None) -> _Connection | None:
        """The connection for the next envelope: the one asked for (while it is open), else
        by `dispatch`."""
        routable = self._routable()
        if connection_id is not None:
            return next((conn for conn in routable if conn.id == connection_id), None)
        if self.dispatch == "random" and routable:
            return self.random.choice(routable)
        return routable[-1] if routable else None

    @property
    def connections(self) -> int:
        """How many websocket connections are open right now."""
        return sum(1 for conn in self._connections if conn.open)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until a connection that Slack would route envelopes to is open.

        A connection that was sent a ``disconnect`` does not count, so this also waits out
        the reconnection that follows :meth:`send_disconnect` or :meth:`drop_connections`.
        """
        await self._wait_for(self._newest_connection, timeout, "a Socket Mode connection")

    async def send_envelope(
        self,
        type_: str,
        payload: JSON,
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
        wait_ack: bool = True,
        timeout: float | None = None,
        connect_timeout: float = 15.0,
        connection_id: int | None = None,
    ) -> Ack:
        """Deliver an envelope over an open connection (the newest, one at random with
        ``dispatch = "random"``, or ``connection_id``) and (by default) wait for its ack.

        Like Slack, never routes to a connection it has asked to disconnect; when no connection
        is open it waits up to ``connect_timeout`` for the app to reconnect. Raises
        ``TimeoutError`` when the ack does not come within ``timeout`` seconds.
        """
        envelope: JSON = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "payload": payload,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
        }
        if type_ == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        sent = await self._deliver(envelope, connect_timeout, connection_id)
        if not wait_ack:
            return Ack(envelope_id=sent.envelope_id, envelope=envelope)
        return await self.wait_ack(sent.envelope_id, timeout=timeout)

    async def _deliver(
        self, envelope: JSON, connect_timeout: float, connection_id: int | None = None
    ) -> SentEnvelope:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + connect_timeout
        data = json.dumps(envelope)
        while True:
            remaining = max(deadline - loop.time(), 0.0)
            conn = await self._wait_for(
                lambda: self._pick_connection(connection_id), remaining, "a connection"
            )
            sent = SentEnvelope(envelope, conn.id, time.monotonic(), future=loop.create_future())
            self._envelopes_by_id[sent.envelope_id] = sent
            try:
                await conn.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                conn.dropped = True
                self._changed()
                continue
            self.envelopes.append(sent)
            self._changed()
            return sent

    async def wait_ack(self, envelope_id: str, timeout: float | None = None) -> Ack:
        """The ack for a sent envelope, waiting up to ``timeout`` seconds for it (default:
        ``ack_timeout``)."""
        sent = self._envelopes_by_id.get(envelope_id)
        if sent is None or sent.future is None:
            raise KeyError(f"no envelope {envelope_id} was sent")
        timeout = self.ack_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(sent.future)
        except TimeoutError:
            raise TimeoutError(
                f"the app did not ack {sent.type} envelope {envelope_id} within {timeout}s"
            ) from None

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message on the newest connection.

        The connection stops receiving envelopes; the real client opens a new one through
        ``apps.connections.open`` (await :meth:`wait_connected` to wait for it).
        """
        conn = await self._wait_for(self._newest_connection, 5.0, "a connection to disconnect")
        conn.draining = True
        self._changed()
        await conn.ws.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}}
        )

    async def drop_connections(self) -> None:
        """Cut every websocket at TCP level (no close frame), as a network failure would."""
        for conn in list(self._connections):
            conn.dropped = True
            if conn.transport is not None:
                conn.transport.abort()
            self._connections.remove(conn)
        self._changed()

    # ------------------------------------------------------------------ payload builders

    def _user_object(self, user_id: str) -> JSON:
        name = self.user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team_object(self) -> JSON:
        return {"id": self.team_id, "domain": self.team_domain}

    async def slash_command(
        self,
        user_id: str,
        text: str = "",
        *,
        command: str = "/socialpost",
        channel_id: str = "C0GENERAL",
        user_name: str | None = None,
        wait_ack: bool = True,
        connection_id: int | None = None,
        timeout: float | None = None,
    ) -> Ack:
        """A user runs a slash command: deliver the ``slash_commands`` envelope (over
        ``connection_id`` if given)."""
        payload = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": self.channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name or self.user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self.issue_response_url(channel_id, user_id),
            "trigger_id": self.issue_trigger_id(user_id),
        }
        return await self.send_envelope(
            "slash_commands",
            payload,
            accepts_response_payload=True,
            wait_ack=wait_ack,
            connection_id=connection_id,
            timeout=timeout,
        )

    def _submission_values(
        self, view: JSON, values: dict[str, dict[str, JSON]] | None
    ) -> dict[str, dict[str, JSON]]:
        """``state.values`` of a submission: ``values`` over the untouched inputs' initial ones."""
        state: dict[str, dict[str, JSON]] = {}
        element_types: dict[tuple[str, str], str] = {}
        for block, element in iter_block_elements(view.get("blocks", [])):
            if block.get("type") != "input":
                continue
            block_id, action_id = str(block["block_id"]), str(element.get("action_id"))
            state.setdefault(block_id, {})[action_id] = _element_state(element)
            element_types[(block_id, action_id)] = str(element.get("type", ""))
        for block_id, actions in (values or {}).items():
            for action_id, value in actions.items():
                if (block_id, action_id) not in element_types:
                    known = sorted(f"{b}/{a}" for b, a in element_types)
                    raise LookupError(
                        f"view {view['id']} has no input {block_id}/{action_id}; it has {known}"
                    )
                merged = {**state[block_id][action_id], **value}
                merged.setdefault("type", element_types[(block_id, action_id)])
                state[block_id][action_id] = merged
        return state

    async def submit_view(
        self,
        view: JSON | str,
        user_id: str,
        values: dict[str, dict[str, JSON]] | None = None,
        *,
        wait_ack: bool = True,
        envelope_id: str | None = None,
        connection_id: int | None = None,
        timeout: float | None = None,
    ) -> Ack:
        """A user submits an open modal: deliver the ``view_submission`` interactive envelope
        (over ``connection_id`` if given: a re-delivery to another process, say).

        ``view`` is the view (or its id) as the emulator stored it. ``values`` is shaped like
        Slack's ``state.values``; inputs left out are reported at their initial values. Once
        acked, the ack's ``response_action`` is applied (``update``/``push``/``errors``, or the
        modal closes).
        """
        view_id = view if isinstance(view, str) else str(view.get("id"))
        stored = self.views.get(view_id)
        if stored is None:
            raise LookupError(f"no view {view_id} was opened")
        if view_id in self.closed_views:
            raise LookupError(f"view {view_id} is closed")
        submitted = copy.deepcopy(stored)
        submitted["state"] = {"values": self._submission_values(stored, values)}
        payload = {
            "type": "view_submission",
            "team": self._team_object(),
            "user": self._user_object(user_id),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "trigger_id": self.issue_trigger_id(user_id, view_id=view_id),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        ack = await self.send_envelope(
            "interactive",
            payload,
            accepts_response_payload=True,
            envelope_id=envelope_id,
            wait_ack=wait_ack,
            connection_id=connection_id,
            timeout=timeout,
        )
        if ack.received:
            self._apply_view_response(view_id, ack.payload)
        return ack

    def _apply_view_response(self, view_id: str, payload: JSON | None) -> None:
        """What Slack does with a view_submission ack's ``response_action``.

        Raises ``ValueError`` for an answer Slack would refuse (an invalid view, or errors keyed
        by something other than the modal's input block_ids), since the user would only see
        Slack's generic "trouble connecting" banner.
        """
        payload = payload or {}
        action = payload.get("response_action")
        current = self.views[view_id]
        if action == "errors":
            errors = payload.get("errors")
            inputs = {b.get("block_id") for b in current["blocks"] if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors or not set(errors) <= inputs:
                raise ValueError(
                    f"Slack refuses response_action errors {errors!r}: keys must be input "
                    f"block_ids of view {view_id} ({sorted(str(i) for i in inputs)})"
                )
            return
        if action in ("update", "push"):
            try:
                view = self._checked_view(payload.get("view"), "modal")
            except _SlackError as exc:
                raise ValueError(f"Slack refuses the {action} view: {exc.body}") from None
        if action == "update":
            self.views[view_id] = self._stored_view(
                view,
                view_id,
                previous_view_id=current.get("previous_view_id"),
                root_view_id=current.get("root_view_id"),
            )
        elif action == "push":
            new_id = self._next_id("V")
            self.views[new_id] = self._stored_view(
                view, new_id, previous_view_id=view_id, root_view_id=current["root_view_id"]
            )
        elif action == "clear":
            root = current["root_view_id"]
            self.closed_views.update(v for v, s in self.views.items() if s["root_view_id"] == root)
        else:
            self.closed_views.add(view_id)
        self._changed()

    async def click_button(
        self,
        user_id: str,
        action_id: str,
        value: str = "",
        *,
        message: Message | None = None,
        view: JSON | None = None,
        ephemeral: JSON | None = None,
        block_id: str | None = None,
        wait_ack: bool = True,
    ) -> Ack:
        """A user clicks a button: deliver the ``block_actions`` interactive envelope.

        Give the ``message`` (or ``view``, or an entry of :attr:`ephemerals`) holding the
        button; it is looked up as currently stored, and the element's block_id, text and value
        are taken from it (``value`` overrides the element's value when given). Raises
        ``LookupError`` if the button is not there, since no user could click it.
        """
        payload: JSON = {
            "type": "block_actions",
            "user": self._user_object(user_id),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "trigger_id": "",
            "team": self._team_object(),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        view_id: str | None = None
        if message is not None:
            current = self.messages.get((message.channel, message.ts))
            if current is None:
                raise LookupError(f"message {message.channel}/{message.ts} no longer exists")
            blocks = current.blocks
            payload["container"] = {
                "type": "message",
                "message_ts": current.ts,
                "channel_id": current.channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": current.channel, "name": self.channel_name(current.channel)}
            payload["message"] = current.to_dict()
            payload["state"] = {"values": {}}
            payload["response_url"] = self.issue_response_url(current.channel, user_id, current.ts)
        elif view is not None:
            view_id = str(view.get("id"))
            stored = self.views.get(view_id) or next(
                (v for v in self.home_views.values() if v["id"] == view_id), None
            )
            if stored is None:
                raise LookupError(f"no view {view_id} is open")
            blocks = stored["blocks"]
            payload["container"] = {"type": "view", "view_id": view_id}
            payload["view"] = copy.deepcopy(stored)
        elif ephemeral is not None:
            blocks = _normalize_blocks(ephemeral.get("blocks", []))
            channel = str(ephemeral["channel"])
            payload["container"] = {
                "type": "message",
                "message_ts": ephemeral.get("message_ts"),
                "channel_id": channel,
                "is_ephemeral": True,
            }
            payload["channel"] = {"id": channel, "name": self.channel_name(channel)}
            payload["state"] = {"values": {}}
            payload["response_url"] = self.issue_response_url(channel, user_id)
        else:
            raise ValueError("click_button needs the message, view or ephemeral holding the button")

        element, found_block_id = None, None
        for block, candidate in iter_block_elements(blocks):
            if candidate.get("action_id") == action_id and block_id in (None, block["block_id"]):
                element, found_block_id = candidate, str(block["block_id"])
                break
        if element is None:
            available = sorted(str(e.get("action_id")) for _, e in iter_block_elements(blocks))
            raise LookupError(f"no element with action_id {action_id!r}; found {available}")
        action: JSON = {
            "action_id": action_id,
            "block_id": found_block_id,
            "type": element.get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if "text" in element:
            action["text"] = copy.deepcopy(element["text"])
        chosen = value or element.get("value")
        if chosen is not None:
            action["value"] = chosen
        if "style" in element:
            action["style"] = element["style"]
        payload["actions"] = [action]
        payload["trigger_id"] = self.issue_trigger_id(user_id, view_id=view_id)
        return await self.send_envelope(
            "interactive", payload, accepts_response_payload=False, wait_ack=wait_ack
        )

    async def send_event(
        self,
        event: JSON,
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        wait_ack: bool = True,
        timeout: float | None = None,
    ) -> Ack:
        """Deliver an Events API ``event_callback`` wrapping ``event``."""
        now = time.time()
        payload = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev0E{uuid.uuid4().hex[:8].upper()}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }
        return await self.send_envelope(
            "events_api",
            payload,
            accepts_response_payload=False,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            wait_ack=wait_ack,
            timeout=timeout,
        )

    async def open_app_home(self, user_id: str) -> Ack:
        """A user opens the app's Home tab: deliver an ``app_home_opened`` event."""
        event: JSON = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": self.dm_channel(user_id),
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        home = self.home_views.get(user_id)
        if home is not None:
            event["view"] = copy.deepcopy(home)
        return await self.send_event(event)
