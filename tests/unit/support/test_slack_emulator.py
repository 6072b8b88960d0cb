"""Smoke tests: the Slack emulator speaks Socket Mode and the Web API to the real slack_sdk/bolt."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.support.emulators.base import Fault, wait_until
from tests.support.emulators.slack import SlackEmulator

T = TypeVar("T")

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "draft_modal",
    "title": {"type": "plain_text", "text": "New draft"},
    "submit": {"type": "plain_text", "text": "Save"},
    "private_metadata": "meta-1",
    "blocks": [
        {
            "type": "input",
            "block_id": "draft_block",
            "label": {"type": "plain_text", "text": "Draft"},
            "element": {"type": "plain_text_input", "action_id": "draft_input"},
        }
    ],
}

APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Draft* ready"}},
    {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "draft-42",
            }
        ],
    },
]


@dataclass
class Bot:
    """A minimal real Bolt app connected to the emulator, with queues of what it received."""

    app: AsyncApp
    handler: AsyncSocketModeHandler
    commands: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    views_open_errors: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    actions: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    home_events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


async def next_item(queue: asyncio.Queue[T]) -> T:
    """The next item the app put in ``queue`` (fails the test after 5 s)."""
    async with asyncio.timeout(5):
        return await queue.get()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk reads proxy variables and ignores NO_PROXY, so drop them for 127.0.0.1."""
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """A running emulator."""
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
async def web(slack: SlackEmulator) -> AsyncWebClient:
    """A slack_sdk web client with the bot token, pointed at the emulator."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
async def bot(slack: SlackEmulator) -> AsyncIterator[Bot]:
    """A real AsyncApp + AsyncSocketModeHandler connected to the emulator over Socket Mode."""
    app = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url))
    handler = AsyncSocketModeHandler(
        app, slack.app_token, web_client=AsyncWebClient(base_url=slack.api_url), ping_interval=0.5
    )
    state = Bot(app=app, handler=handler)

    @app.command("/socialpost")
    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await state.commands.put(body)
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        except SlackApiError as exc:
            await state.views_open_errors.put(exc.response["error"])

    @app.view("draft_modal")
    async def on_submit(ack: Any, view: dict[str, Any]) -> None:
        draft = view["state"]["values"]["draft_block"]["draft_input"]["value"]
        if not draft:
            await ack(response_action="errors", errors={"draft_block": "Write something first"})
        else:
            await ack()

    @app.action("approve")
    async def on_approve(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await state.actions.put(body)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await state.home_events.put(event)
        await client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Welcome"}}],
            },
        )

    await handler.connect_async()
    await slack.wait_connected()
    try:
        yield state
    finally:
        await handler.close_async()


async def test_slash_command_is_acked_and_views_open_uses_its_trigger(
    slack: SlackEmulator, bot: Bot
) -> None:
    """A slash command reaches the app, is acked, and its views.open with the trigger succeeds."""
    ack = await slack.slash_command("U0ALICE", "hello")

    assert ack.received
    assert ack.in_time
    assert ack.payload is None
    body = await next_item(bot.commands)
    assert body["text"] == "hello"
    assert body["user_id"] == "U0ALICE"
    assert body["is_enterprise_install"] == "false"
    call = await slack.wait_for_call("views.open")
    assert call.ok
    assert call.encoding == "json"
    assert call.args["trigger_id"] == ack.envelope["payload"]["trigger_id"]
    view = call.response["view"]
    assert slack.views[view["id"]]["callback_id"] == "draft_modal"
    assert view["state"] == {"values": {}}
    assert view["private_metadata"] == "meta-1"


async def test_view_submission_ack_carries_response_action_errors(
    slack: SlackEmulator, bot: Bot
) -> None:
    """A view_submission answered with response_action errors returns them in Ack.payload."""
    await slack.slash_command("U0ALICE")
    opened = await slack.wait_for_call("views.open")
    view = slack.views[opened.response["view"]["id"]]

    rejected = await slack.submit_view(view, "U0ALICE")
    assert rejected.payload == {
        "response_action": "errors",
        "errors": {"draft_block": "Write something first"},
    }
    assert view["id"] not in slack.closed_views

    values = {"draft_block": {"draft_input": {"type": "plain_text_input", "value": "Hi"}}}
    accepted = await slack.submit_view(view, "U0ALICE", values)
    assert accepted.payload is None
    assert view["id"] in slack.closed_views


async def test_button_click_reaches_the_app(
    slack: SlackEmulator, bot: Bot, web: AsyncWebClient
) -> None:
    """Clicking a button in a stored message delivers a block_actions payload to the app."""
    await web.chat_postMessage(channel="C0GENERAL", text="Draft ready", blocks=APPROVAL_BLOCKS)
    [message] = slack.channel_messages("C0GENERAL")
    assert message.buttons() == {"approve": "draft-42"}

    ack = await slack.click_button("U0ALICE", "approve", message=message)

    assert ack.received
    body = await next_item(bot.actions)
    assert body["actions"][0]["value"] == "draft-42"
    assert body["actions"][0]["block_id"] == "approval"
    assert body["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "C0GENERAL",
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == message.ts


async def test_chat_update_replaces_message_and_keeps_history(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """chat.update replaces the stored message in place and keeps its earlier version."""
    posted = await web.chat_postMessage(channel="U0ALICE", text="v1", blocks=APPROVAL_BLOCKS)
    assert posted["channel"] == "DU0ALICE"
    updated = await web.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="v2", blocks=[]
    )

    assert updated["ts"] == posted["ts"]
    message = slack.messages[("DU0ALICE", posted["ts"])]
    assert (message.text, message.blocks) == ("v2", [])
    assert message.history[0][0] == "v1"
    assert message.history[0][1][1]["block_id"] == "approval"
    with pytest.raises(SlackApiError) as missing:
        await web.chat_update(channel="DU0ALICE", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"


async def test_ratelimited_answers_429_with_retry_after(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """A scripted ratelimited error answers HTTP 429 with Retry-After, then calls succeed again."""
    slack.fail_method_with_error("chat.postMessage", "ratelimited", retry_after=7)

    with pytest.raises(SlackApiError) as limited:
        await web.chat_postMessage(channel="C0GENERAL", text="hi")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert (await web.chat_postMessage(channel="C0GENERAL", text="hi"))["ok"]


async def test_http_faults_and_tokens_are_enforced(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """HTTP faults are played per method, and bad or missing tokens are refused."""
    slack.fail_method("chat.postMessage", Fault(status=500))
    with pytest.raises(SlackApiError) as failed:
        await web.chat_postMessage(channel="C0GENERAL", text="hi")
    assert failed.value.response.status_code == 500

    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as invalid:
        await bad.auth_test()
    assert invalid.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=slack.api_url).auth_test()
    assert missing.value.response["error"] == "not_authed"


async def test_invalid_blocks_are_refused(slack: SlackEmulator, web: AsyncWebClient) -> None:
    """Blocks and views over Slack's limits are refused the way Slack refuses them."""
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as blocks_error:
        await web.chat_postMessage(channel="C0GENERAL", text="x", blocks=too_many)
    assert blocks_error.value.response["error"] == "invalid_blocks"
    assert "[json-pointer:/blocks]" in blocks_error.value.response["errors"][0]

    long_button = [dict(APPROVAL_BLOCKS[1])]
    long_button[0]["elements"] = [{**APPROVAL_BLOCKS[1]["elements"][0], "value": "v" * 2001}]
    with pytest.raises(SlackApiError) as value_error:
        await web.chat_postMessage(channel="C0GENERAL", text="x", blocks=long_button)
    assert "/blocks/0/elements/0/value" in value_error.value.response["errors"][0]

    trigger = slack.issue_trigger_id("U0ALICE")
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "t" * 25}}
    with pytest.raises(SlackApiError) as view_error:
        await web.views_open(trigger_id=trigger, view=long_title)
    assert view_error.value.response["error"] == "invalid_arguments"
    assert "/view/title/text" in view_error.value.response["response_metadata"]["messages"][0]
    assert slack.messages == {}
    assert slack.views == {}


async def test_expired_and_reused_trigger_ids_are_refused(
    slack: SlackEmulator, bot: Bot, web: AsyncWebClient
) -> None:
    """views.open refuses an expired trigger id, a reused one and an unknown one."""
    slack.trigger_ttl = 0.0
    await slack.slash_command("U0ALICE")
    assert await next_item(bot.views_open_errors) == "expired_trigger_id"

    slack.trigger_ttl = 3.0
    trigger = slack.issue_trigger_id("U0ALICE")
    await web.views_open(trigger_id=trigger, view=MODAL)
    for trigger_id, error in ((trigger, "exchanged_trigger_id"), ("1.2.x", "invalid_trigger_id")):
        with pytest.raises(SlackApiError) as refused:
            await web.views_open(trigger_id=trigger_id, view=MODAL)
        assert refused.value.response["error"] == error


async def test_hello_message_is_sent_on_connect(slack: SlackEmulator) -> None:
    """A raw websocket client gets Slack's hello message right after connecting."""
    opened = await AsyncWebClient(base_url=slack.api_url).apps_connections_open(
        app_token=slack.app_token
    )
    async with aiohttp.ClientSession() as session, session.ws_connect(opened["url"]) as ws:
        hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": slack.app_id}
    assert slack.connection_opens == 1


async def test_client_reconnects_after_disconnect_message(slack: SlackEmulator, bot: Bot) -> None:
    """After Slack's disconnect message the client reconnects and later commands still arrive."""
    opens = slack.connection_opens

    await slack.send_disconnect()
    await slack.wait_connected()

    assert slack.connection_opens == opens + 1
    ack = await slack.slash_command("U0ALICE", "after refresh")
    assert ack.received
    assert (await next_item(bot.commands))["text"] == "after refresh"


async def test_client_reconnects_after_dropped_connection(slack: SlackEmulator, bot: Bot) -> None:
    """After a TCP-level drop the client reconnects and later commands still arrive."""
    opens = slack.connection_opens

    await slack.drop_connections()
    assert slack.connections == 0
    await slack.wait_connected()

    assert slack.connection_opens == opens + 1
    ack = await slack.slash_command("U0ALICE", "after drop")
    assert ack.received
    assert (await next_item(bot.commands))["text"] == "after drop"


async def test_app_home_opened_reaches_the_app(slack: SlackEmulator, bot: Bot) -> None:
    """An app_home_opened event reaches the app, which publishes the Home tab."""
    ack = await slack.open_app_home("U0ALICE")

    assert ack.received
    assert ack.envelope["retry_attempt"] == 0
    event = await next_item(bot.home_events)
    assert event["tab"] == "home"
    assert event["user"] == "U0ALICE"
    await slack.wait_for_call("views.publish")
    assert slack.home_views["U0ALICE"]["blocks"][0]["text"]["text"] == "Welcome"


async def test_usergroups_users_list_answers_members(
    slack: SlackEmulator, web: AsyncWebClient
) -> None:
    """usergroups.users.list answers a group's members, no_such_subteam for an unknown one,
    and invalid_arguments without a group."""
    slack.add_usergroup("S0LEGAL", ["U0ANN", "U0BOB", "U0ANN"])
    answer = await web.usergroups_users_list(usergroup="S0LEGAL")
    assert answer["users"] == ["U0ANN", "U0BOB"]
    for args, error in (({"usergroup": "S0NONE"}, "no_such_subteam"), ({}, "invalid_arguments")):
        with pytest.raises(SlackApiError) as raised:
            await web.api_call("usergroups.users.list", params=args)
        assert raised.value.response["error"] == error


async def test_changed_usergroup_members_send_the_event(slack: SlackEmulator, bot: Bot) -> None:
    """Changing a group's members delivers subteam_members_changed with the delta, as Slack
    does, and the new members are listed."""
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @bot.app.event("subteam_members_changed")
    async def on_change(event: dict[str, Any]) -> None:
        await received.put(event)

    slack.add_usergroup("S0LEGAL", ["U0ANN", "U0BOB"])
    await slack.change_usergroup_members("S0LEGAL", ["U0BOB", "U0CAT"])
    event = await next_item(received)
    assert event["subteam_id"] == "S0LEGAL"
    assert (event["added_users"], event["removed_users"]) == (["U0CAT"], ["U0ANN"])
    assert slack.usergroups["S0LEGAL"]["users"] == ["U0BOB", "U0CAT"]


async def test_random_dispatch_spreads_envelopes_over_every_open_connection(
    slack: SlackEmulator,
) -> None:
    """With dispatch "random", 60 envelopes over three raw connections reach each of them;
    `connection_id` sends one to the connection named."""
    slack.dispatch = "random"
    slack.random.seed(13)
    web = AsyncWebClient(base_url=slack.api_url)
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        sockets = []
        for _ in range(3):
            opened = await web.apps_connections_open(app_token=slack.app_token)
            ws = await stack.enter_async_context(session.ws_connect(opened["url"]))
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            sockets.append(ws)
        await wait_until(lambda: len(slack.connection_ids) == 3, timeout=5, message="3 links")
        for n in range(60):
            await slack.send_envelope("events_api", {"n": n}, wait_ack=False)
        assert {sent.connection_id for sent in slack.envelopes} == set(slack.connection_ids)
        chosen = slack.connection_ids[0]
        await slack.send_envelope("events_api", {"n": 60}, wait_ack=False, connection_id=chosen)
        assert slack.envelopes[-1].connection_id == chosen
