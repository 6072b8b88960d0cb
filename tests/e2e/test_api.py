"""The intake API, webhooks and metrics end to end: the real bot, the emulators, a local
webhook receiver that verifies signatures with the standardwebhooks library."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from bot.http import web_app
from handlers.api.routes import openapi_document
from services.models import PostStatus
from tests.e2e.test_guardrails import priced_config
from tests.support.emulators.base import wait_until
from tests.support.harness import APPROVER, World
from tests.unit.handlers.api import schema_run

KEY = "k_e2e_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
SECRET = "whsec_" + base64.b64encode(b"socialpost-webhook-key-32bytes!!").decode()
BODY = {"query": "Announce the spring release", "social_platform": "x", "requested_by": "CMS"}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Receiver:
    """A webhook receiver: verifies each delivery like a user's would; `failing` answers 500."""

    secret: str
    failing: bool = False
    verified: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        payload = Webhook(self.secret).verify(body, dict(request.headers))
        self.ids.append(request.headers["webhook-id"])
        if self.failing:
            return web.Response(status=500)
        self.verified.append(payload)
        return web.Response(status=204)

    def types(self, post_id: str) -> list[str]:
        """The event types delivered for one post, in order."""
        return [event["type"] for event in self.verified if event["data"]["id"] == post_id]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1."""
    hook = Receiver(SECRET)
    application = web.Application()
    application.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield hook
    await runner.cleanup()


@dataclass
class Api:
    """The bot's API base URL and a client session."""

    base: str
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        """Status, JSON body and headers of one call."""
        async with self.session.request(method, self.base + path, **kwargs) as response:
            text = await response.text()
            body = json.loads(text) if response.content_type == "application/json" else text
            return response.status, body, response.headers


async def start(world: World, receiver: Receiver, **overrides: str) -> tuple[Any, Api]:
    """The bot with one API key `ci`, webhooks to `receiver` and metrics on."""
    port = free_port()
    bot = await world.start_bot(
        SOCIALPOST_API_KEYS=f"ci:{KEY}",
        SOCIALPOST_HTTP_PORT=str(port),
        SOCIALPOST_METRICS="true",
        SOCIALPOST_WEBHOOK_URL=receiver.url,
        SOCIALPOST_WEBHOOK_SECRET=SECRET,
        **overrides,
    )
    session = aiohttp.ClientSession()
    return bot, Api(f"http://127.0.0.1:{port}", session)


async def test_api_draft_follows_the_slack_flow_and_webhooks_tell_each_stage(
    world: World, receiver: Receiver
) -> None:
    """POST /posts/generate: 202, a card "via API: ci", approved in Slack, posted; GET shows
    each stage; the receiver verifies post.pending and post.posted; /metrics counts them."""
    bot, api = await start(world, receiver)
    try:
        status, body, _ = await api.call("POST", "/posts/generate", json=BODY, headers=AUTH)
        assert status == 202
        (ref,) = body["posts"]
        assert (ref["platform"], ref["status"]) == ("x", "generating")
        card = await bot.draft_card()
        assert "via API: ci (requested by CMS)" in card.all_text()
        status, view, _ = await api.call("GET", f"/posts/{ref['id']}", headers=AUTH)
        assert status == 200 and view["status"] == "pending" and view["message"]
        assert view["requested_by"] == "CMS"
        await bot.click(card, "approve", APPROVER)
        (tweet,) = await world.x.wait_for_tweets(1)
        await wait_until(lambda: "post.posted" in receiver.types(ref["id"]), timeout=10)
        assert receiver.types(ref["id"]) == ["post.pending", "post.posted"]
        posted = receiver.verified[-1]["data"]
        assert posted["url"] == f"https://x.com/i/web/status/{tweet.id}"
        assert posted["approved_by"] == APPROVER and posted["external_id"] == tweet.id
        status, view, _ = await api.call("GET", f"/posts/{ref['id']}", headers=AUTH)
        assert (view["status"], view["external_id"]) == ("posted", tweet.id)
        status, metrics, _ = await api.call("GET", "/metrics")
        assert status == 200
        for line in [
            'socialpost_posts_total{event="drafted",platform="x"} 1.0',
            'socialpost_posts_total{event="approved",platform="x"} 1.0',
            'socialpost_posts_total{event="posted",platform="x"} 1.0',
            'socialpost_llm_requests_total{outcome="ok",provider="openai"} 1.0',
            'socialpost_jobs{queue="publish",status="done"} 1.0',
        ]:
            assert line in metrics, line
        assert "socialpost_slack_ack_seconds_count" in metrics
        assert (
            'socialpost_webhook_deliveries_total{outcome="delivered",type="post.posted"}' in metrics
        )
    finally:
        await api.session.close()


async def test_idempotency_key_replays_and_refuses_another_body(
    world: World, receiver: Receiver
) -> None:
    """The same Idempotency-Key again: 200 with the same posts and one card; with another
    body: 422 and nothing new; concurrent requests with one key make one post."""
    bot, api = await start(world, receiver)
    try:
        headers = {**AUTH, "Idempotency-Key": "release-1"}
        first = await api.call("POST", "/posts/generate", json=BODY, headers=headers)
        again = await api.call("POST", "/posts/generate", json=BODY, headers=headers)
        assert (first[0], again[0]) == (202, 200) and first[1] == again[1]
        other = {**BODY, "query": "Something else"}
        status, error, _ = await api.call("POST", "/posts/generate", json=other, headers=headers)
        assert status == 422 and "Idempotency-Key" in error["fields"]
        race = {**AUTH, "Idempotency-Key": "race-1"}
        answers = await asyncio.gather(
            *[api.call("POST", "/posts/generate", json=BODY, headers=race) for _ in range(8)]
        )
        assert sorted(a[0] for a in answers).count(202) == 1
        # The same posts in every answer (a replay shows them as they are by then: a draft
        # may have been written meanwhile).
        named = {json.dumps([(p["id"], p["platform"]) for p in a[1]["posts"]]) for a in answers}
        assert len(named) == 1
        await bot.settle()
        counts = await bot.runtime.store.posts.count_by_status()
        assert sum(counts.values()) == 2
    finally:
        await api.session.close()


async def test_every_refusal_is_json_and_stores_nothing(world: World, receiver: Receiver) -> None:
    """401, 400, 413, 422 (the intake's own words), 404, and 429 with Retry-After for a flood
    from one address; no post is stored for any of them."""
    bot, api = await start(world, receiver, SOCIALPOST_API_RATE_LIMIT="12/60")
    try:
        generate = "/posts/generate"
        wrong_key = {"Authorization": "Bearer no"}
        calls = [
            ("POST", generate, {"json": BODY}, 401, "unauthorized"),
            ("POST", generate, {"json": BODY, "headers": wrong_key}, 401, "unauthorized"),
            ("POST", generate, {"data": b"{nope", "headers": AUTH}, 400, "invalid_json"),
            ("POST", generate, {"data": b"x" * 70_000, "headers": AUTH}, 413, "payload_too_large"),
            ("GET", "/posts/missing", {"headers": AUTH}, 404, "not_found"),
        ]
        for fields in [
            {"social_platform": "myspace"},
            {"query": " "},
            {"query": "a" * 2001},
            {"social_platform": "instagram"},
            {"tone": "sarcastic"},
        ]:
            kwargs = {"json": {**BODY, **fields}, "headers": AUTH}
            calls.append(("POST", generate, kwargs, 422, "invalid_request"))
        for method, path, kwargs, expected, code in calls:
            status, body, _ = await api.call(method, path, **kwargs)
            assert (status, body["error"]) == (expected, code), (path, kwargs, body)
        status, body, _ = await api.call(
            "POST", "/posts/generate", json={**BODY, "query": " "}, headers=AUTH
        )
        assert body["fields"] == {"query": "Describe the post you want: the brief can't be empty."}
        flood = [await api.call("GET", "/posts/missing", headers=AUTH) for _ in range(4)]
        assert flood[-1][0] == 429 and flood[-1][1]["error"] == "rate_limited"
        assert int(flood[-1][2]["Retry-After"]) >= 1
        assert await bot.runtime.store.posts.count_by_status() == {}
    finally:
        await api.session.close()


async def test_a_failing_receiver_never_delays_a_post_and_ends_in_dlq_webhook(
    world: World, receiver: Receiver
) -> None:
    """With a receiver that always fails, the post is still drafted, rejected and shown at
    once; each event is retried with the same webhook-id, then lands in dlq_webhook and
    /socialpost status says so."""
    receiver.failing = True
    bot, api = await start(world, receiver)
    try:
        _status, body, _ = await api.call("POST", "/posts/generate", json=BODY, headers=AUTH)
        card = await bot.draft_card()
        await bot.click(card, "reject", APPROVER)
        await bot.wait_card(lambda c: "Rejected by" in c.all_text())

        async def dead() -> int:
            counts = await bot.runtime.store.jobs.counts()
            return counts.get(("webhook", "dead"), 0)

        for _ in range(200):
            if await dead() == 2:
                break
            await asyncio.sleep(0.05)
        assert await dead() == 2
        assert len(receiver.ids) == 6 and len(set(receiver.ids)) == 2  # 3 tries each
        ack = await world.slack.slash_command(APPROVER, "status")
        assert "Webhook delivery: 2" in json.dumps(ack.payload)
        post = await bot.runtime.store.posts.get(body["posts"][0]["id"])
        assert post is not None and post.status == PostStatus.REJECTED
    finally:
        await api.session.close()


async def test_schemathesis_against_the_running_bot(world: World, receiver: Receiver) -> None:
    """Cases generated from the running bot's /openapi.json get documented answers, and
    every route the bot serves is in the document."""
    bot, api = await start(world, receiver, SOCIALPOST_API_RATE_LIMIT="100000/1")
    try:
        checked = await asyncio.to_thread(schema_run.run, api.base, AUTH, examples=20)
        assert "POST /posts/generate" in checked and "GET /posts/{id}" in checked
        served = {
            (route.method, route.resource.canonical)
            for route in web_app(
                None, ping=bot.runtime.store.ping, api=bot.runtime.api
            ).router.routes()
            if route.resource is not None and route.method != "HEAD"
        }
        paths = openapi_document()["paths"]
        assert served == {(m.upper(), p) for p, item in paths.items() for m in item}
    finally:
        await api.session.close()


async def test_post_at_asks_for_a_time_and_a_past_one_is_refused(
    world: World, receiver: Receiver
) -> None:
    """`post_at` ahead: the card says "Requested for <time>" and nothing is scheduled until a
    human approves; Approve & post then schedules it for that time (GET shows scheduled_for,
    the receiver hears post.scheduled); a time that has passed is a 422 on `post_at` in the
    modal's words, and nothing is stored."""
    bot, api = await start(world, receiver)
    try:
        past = {**BODY, "post_at": "2020-01-01T09:00:00+00:00"}
        status, body, _ = await api.call("POST", "/posts/generate", json=past, headers=AUTH)
        assert status == 422 and set(body["fields"]) == {"post_at"}
        assert body["fields"]["post_at"] == "That time has passed. Pick a time in the future."
        assert sum((await bot.runtime.store.posts.count_by_status()).values()) == 0

        when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        ahead = {**BODY, "post_at": when.isoformat()}
        status, body, _ = await api.call("POST", "/posts/generate", json=ahead, headers=AUTH)
        assert status == 202
        card = await bot.draft_card()
        assert f"Requested for <!date^{int(when.timestamp())}^" in card.all_text()
        post_id = body["posts"][0]["id"]
        status, view, _ = await api.call("GET", f"/posts/{post_id}", headers=AUTH)
        assert view["status"] == "pending" and view["scheduled_for"] is None
        await bot.click(card, "approve", APPROVER)
        await wait_until(lambda: "post.scheduled" in receiver.types(post_id), timeout=10)
        status, view, _ = await api.call("GET", f"/posts/{post_id}", headers=AUTH)
        assert view["status"] == "scheduled"
        assert datetime.fromisoformat(view["scheduled_for"]) == when
        assert world.x.tweets == []
    finally:
        await api.session.close()


async def test_an_exhausted_budget_is_a_402_and_asks_no_llm(
    world: World, receiver: Receiver
) -> None:
    """Once this month's LLM spend reaches SOCIALPOST_LLM_MONTHLY_BUDGET, POST /posts/generate
    answers 402 budget_exhausted in SPEC's words, makes no LLM request and stores nothing."""
    bot, api = await start(
        world,
        receiver,
        SOCIALPOST_LLM_CONFIG=priced_config(world),
        SOCIALPOST_LLM_MONTHLY_BUDGET="0.001",
    )
    try:
        status, _, _ = await api.call("POST", "/posts/generate", json=BODY, headers=AUTH)
        assert status == 202
        await bot.draft_card()
        requests = len(world.openai.requests)
        again = {**BODY, "query": "Another post, over the budget"}
        status, body, _ = await api.call("POST", "/posts/generate", json=again, headers=AUTH)
        assert status == 402
        assert body == {
            "error": "budget_exhausted",
            "message": "This month's LLM budget ($0.001) is used up.",
        }
        await bot.settle()
        assert len(world.openai.requests) == requests
        assert sum((await bot.runtime.store.posts.count_by_status()).values()) == 1
    finally:
        await api.session.close()
