"""The local fakes answer the real clients (litellm, tweepy, aiohttp) like the real services."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp
import litellm
import oauthlib.oauth1
import pytest
import tweepy
from aiohttp import ClientHandlerType, ClientMiddlewareType, ClientRequest, ClientResponse, hdrs
from tweepy.asynchronous import AsyncClient
from yarl import URL

from tests.support.emulators.base import Fault
from tests.support.emulators.llm import FakeLLM
from tests.support.emulators.platforms import (
    X_DUPLICATE,
    X_REPLY_NOT_VISIBLE,
    FakeInstagram,
    FakeLinkedIn,
    FakeX,
    escape_little_text,
    unescape_little_text,
)

litellm.suppress_debug_info = True

# litellm 1.106's TypedDicts use ``ReadOnly``; pydantic warns once when it builds their schema.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"
)

X_KEYS: dict[str, str] = {
    "consumer_key": "x-consumer-key",
    "consumer_secret": "x-consumer-secret",
    "access_token": "x-access-token",
    "access_token_secret": "x-access-secret",
}
LINKEDIN_HEADERS = {
    "Authorization": "Bearer li-token",
    "LinkedIn-Version": "202506",
    "X-Restli-Protocol-Version": "2.0.0",
}
MESSAGES = [
    {"role": "system", "content": "You write social posts."},
    {"role": "user", "content": "Draft a post about tea."},
]

# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as server:
        yield server


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    async with FakeX(
        consumer_key=X_KEYS["consumer_key"],
        consumer_secret=X_KEYS["consumer_secret"],
        access_token=X_KEYS["access_token"],
        access_token_secret=X_KEYS["access_token_secret"],
    ) as server:
        yield server


@pytest.fixture
async def linkedin() -> AsyncIterator[FakeLinkedIn]:
    async with FakeLinkedIn(access_token="li-token") as server:
        yield server


@pytest.fixture
async def instagram() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(access_token="ig-token", user_id="17841400000000000") as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


# -- tweepy -> FakeX: rewrite api.twitter.com to the fake and re-sign OAuth 1.0a -------------


def redirect_to_fake_x(
    fake: FakeX, *, consumer_secret: str | None = None, resign: bool = True
) -> ClientMiddlewareType:
    """A client middleware sending tweepy's ``https://api.twitter.com`` requests to ``fake``.

    It rewrites ``req.url`` (scheme, host, port), fixes the ``Host`` header (aiohttp set it from
    the original URL when the request was built), and re-signs ``Authorization: OAuth ...`` for
    the new URL, since the signature covers scheme, host, port and path.
    """
    target = URL(fake.url)
    host, port = target.host or "127.0.0.1", target.port

    async def middleware(req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        req.url = req.url.with_scheme(target.scheme).with_host(host).with_port(port)
        req.headers[hdrs.HOST] = f"{host}:{port}"
        if resign and req.headers.get(hdrs.AUTHORIZATION, "").startswith("OAuth "):
            signer = oauthlib.oauth1.Client(
                fake.consumer_key,
                client_secret=consumer_secret or fake.consumer_secret,
                resource_owner_key=fake.access_token,
                resource_owner_secret=fake.access_token_secret,
            )
            _, signed, _ = signer.sign(str(req.url), req.method)
            req.headers[hdrs.AUTHORIZATION] = signed["Authorization"]
        return await handler(req)

    return middleware


async def tweepy_client(
    fake: FakeX, **middleware_options: Any
) -> tuple[AsyncClient, aiohttp.ClientSession]:
    """A tweepy AsyncClient whose session talks to ``fake``; the caller closes the session."""
    client = AsyncClient(**X_KEYS)
    session = aiohttp.ClientSession(middlewares=(redirect_to_fake_x(fake, **middleware_options),))
    client.session = session
    return client, session


# -- FakeLLM -------------------------------------------------------------------------------


async def test_litellm_openai_gets_the_reply(llm: FakeLLM) -> None:
    """litellm's openai/ provider reads FakeLLM's chat.completion answer."""
    llm.reply_with(lambda request: f"echo: {request.user_text}")
    response = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        messages=MESSAGES,
        api_base=f"{llm.url}/v1",
        api_key="sk-test",
        timeout=5,
        max_retries=0,
        num_retries=0,
    )
    assert response.choices[0].message.content == "echo: Draft a post about tea."
    [request] = llm.requests
    assert request.api == "openai"
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.model == "gpt-4o-mini"
    assert request.system == "You write social posts."
    assert request.messages == [{"role": "user", "content": "Draft a post about tea."}]
    assert request.status == 200


async def test_litellm_anthropic_gets_the_reply(llm: FakeLLM) -> None:
    """litellm's anthropic/ provider reads FakeLLM's Messages answer; queued replies go first."""
    llm.queue_replies("first", "second")
    replies = []
    for _ in range(3):
        response = await litellm.acompletion(
            model="anthropic/claude-3-5-haiku-latest",
            messages=MESSAGES,
            api_base=llm.url,
            api_key="sk-ant-test",
            timeout=5,
            max_retries=0,
            num_retries=0,
        )
        replies.append(response.choices[0].message.content)
    assert replies == ["first", "second", "This is a fake LLM reply."]
    request = llm.requests[0]
    assert request.api == "anthropic"
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert "anthropic-version" in request.headers
    assert request.system == "You write social posts."
    assert request.user_text == "Draft a post about tea."


@pytest.mark.parametrize(
    ("model", "suffix"),
    [("openai/gpt-4o-mini", "/v1"), ("anthropic/claude-3-5-haiku-latest", "")],
)
async def test_litellm_scripted_500_raises_without_retries(
    llm: FakeLLM, model: str, suffix: str
) -> None:
    """A scripted 500 surfaces as litellm's InternalServerError after exactly one request."""
    llm.fail(Fault(status=500))
    with pytest.raises(litellm.exceptions.InternalServerError):
        await litellm.acompletion(
            model=model,
            messages=MESSAGES,
            api_base=llm.url + suffix,
            api_key="k",
            timeout=5,
            max_retries=0,
            num_retries=0,
        )
    assert len(llm.requests) == 1
    assert llm.requests[0].status == 500


async def test_llm_error_bodies_and_streaming_refusal(
    llm: FakeLLM, session: aiohttp.ClientSession
) -> None:
    """Errors carry each provider's shape and headers; a streaming request gets a 400."""
    llm.fail(Fault(status=429, headers={"retry-after": "1"}), times=2)
    openai_headers = {"Authorization": "Bearer k"}
    anthropic_headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with session.post(
        f"{llm.url}/v1/chat/completions", json=body, headers=openai_headers
    ) as resp:
        assert resp.status == 429
        assert resp.headers["retry-after"] == "1"
        assert (await resp.json())["error"]["code"] == "rate_limit_exceeded"
    async with session.post(f"{llm.url}/v1/messages", json=body, headers=anthropic_headers) as resp:
        assert resp.status == 429
        error = await resp.json()
        assert error["type"] == "error"
        assert error["error"]["type"] == "rate_limit_error"
    async with session.post(
        f"{llm.url}/v1/messages", json={**body, "stream": True}, headers=anthropic_headers
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["type"] == "invalid_request_error"


# -- FakeX ---------------------------------------------------------------------------------


async def test_tweepy_creates_a_tweet(fake_x: FakeX) -> None:
    """tweepy's AsyncClient, re-signed for the fake's URL, creates a tweet and a reply."""
    client, session = await tweepy_client(fake_x)
    async with session:
        first = await client.create_tweet(text="Hello from the bot")
        reply = await client.create_tweet(text="A reply", in_reply_to_tweet_id=first.data["id"])
        me = await client.get_me()
    assert first.data == {
        "id": fake_x.tweets[0].id,
        "text": "Hello from the bot",
        "edit_history_tweet_ids": [fake_x.tweets[0].id],
    }
    assert int(reply.data["id"]) > int(first.data["id"])
    assert fake_x.tweets[1].in_reply_to == first.data["id"]
    assert me.data.username == fake_x.username
    assert [r.status for r in fake_x.requests] == [201, 201]
    assert fake_x.requests[0].json == {"text": "Hello from the bot"}


async def test_fake_x_rejects_bad_signatures(fake_x: FakeX) -> None:
    """A signature made for api.twitter.com, or with a wrong secret, gets X's 401."""
    for options in ({"resign": False}, {"consumer_secret": "wrong-secret"}):
        client, session = await tweepy_client(fake_x, **options)
        async with session:
            with pytest.raises(tweepy.Unauthorized):
                await client.create_tweet(text="Should not post")
    assert fake_x.tweets == []
    assert [r.status for r in fake_x.requests] == [401, 401]


async def test_fake_x_content_rules(fake_x: FakeX) -> None:
    """Duplicate text is 403, a reply to a missing tweet is 403, over 280 weighted chars is 400."""
    client, session = await tweepy_client(fake_x)
    async with session:
        await client.create_tweet(text="Same words")
        with pytest.raises(tweepy.Forbidden) as duplicate:
            await client.create_tweet(text="Same words")
        with pytest.raises(tweepy.Forbidden) as missing_parent:
            await client.create_tweet(text="Orphan", in_reply_to_tweet_id="1234")
        with pytest.raises(tweepy.BadRequest):
            await client.create_tweet(text="x" * 281)
    assert duplicate.value.api_messages == [X_DUPLICATE]
    assert missing_parent.value.api_messages == [X_REPLY_NOT_VISIBLE]
    assert len(fake_x.tweets) == 1


async def test_fake_x_rate_limit_and_hold(fake_x: FakeX) -> None:
    """The 429 carries X's reset header; a held request has already created its tweet."""
    client, session = await tweepy_client(fake_x)
    async with session:
        fake_x.rate_limited(reset_in=60)
        with pytest.raises(tweepy.TooManyRequests) as limited:
            await client.create_tweet(text="Too soon")
        assert limited.value.reset_time is not None
        assert limited.value.response.headers["x-rate-limit-remaining"] == "0"

        fake_x.hold()
        publish = asyncio.create_task(client.create_tweet(text="In flight"))
        await fake_x.wait_for_held(1)
        assert [t.text for t in fake_x.tweets] == ["In flight"]
        assert not publish.done()
        fake_x.release()
        response = await publish
    assert response.data["id"] == fake_x.tweets[0].id


# -- FakeLinkedIn --------------------------------------------------------------------------


def linkedin_post(commentary: str, **overrides: Any) -> dict[str, Any]:
    """A Posts API body like the bot sends."""
    return {
        "author": "urn:li:person:abc123",
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        **overrides,
    }


async def test_linkedin_post_created(
    linkedin: FakeLinkedIn, session: aiohttp.ClientSession
) -> None:
    """A valid post gets 201, an empty body and x-restli-id; escaping is checkable."""
    text = "Launch (beta) #1 @team [link] ~50% off_now *wow*"
    async with session.post(
        f"{linkedin.url}/rest/posts",
        json=linkedin_post(escape_little_text(text)),
        headers=LINKEDIN_HEADERS,
    ) as resp:
        assert resp.status == 201
        assert await resp.read() == b""
        urn = resp.headers["x-restli-id"]
    [post] = linkedin.posts
    assert urn == post.urn
    assert urn.startswith("urn:li:share:")
    assert post.text == text == unescape_little_text(post.commentary)
    assert post.rendered == text
    assert post.unescaped_reserved == []
    assert post.headers["LinkedIn-Version"] == "202506"

    async with session.post(
        f"{linkedin.url}/rest/posts",
        json=linkedin_post("Unescaped (oops) text"),
        headers=LINKEDIN_HEADERS,
    ) as resp:
        assert resp.status == 201
    assert linkedin.posts[1].rendered == "Unescaped "
    assert linkedin.posts[1].unescaped_reserved == [10, 15]


async def test_linkedin_rejections(linkedin: FakeLinkedIn, session: aiohttp.ClientSession) -> None:
    """Bad token 401, missing version 400, missing field 422, duplicate 422: LinkedIn's shapes."""
    url = f"{linkedin.url}/rest/posts"
    cases: list[tuple[dict[str, str], dict[str, Any], int, str]] = [
        ({**LINKEDIN_HEADERS, "Authorization": "Bearer nope"}, linkedin_post("a"), 401, "code"),
        (
            {k: v for k, v in LINKEDIN_HEADERS.items() if k != "LinkedIn-Version"},
            linkedin_post("a"),
            400,
            "code",
        ),
        (LINKEDIN_HEADERS, {"author": "urn:li:person:abc123"}, 422, "message"),
    ]
    for headers, body, status, key in cases:
        async with session.post(url, json=body, headers=headers) as resp:
            assert resp.status == status
            error = await resp.json()
            assert error["status"] == status
            assert key in error
    assert error["message"].startswith("ERROR :: /commentary :: field is required")

    for expected in (201, 422):
        async with session.post(url, json=linkedin_post("twice"), headers=LINKEDIN_HEADERS) as resp:
            assert resp.status == expected
            answer = await resp.read()
    assert b'"code": "DUPLICATE_POST"' in answer
    assert [r.status for r in linkedin.requests] == [401, 400, 422, 201, 422]


# -- FakeInstagram -------------------------------------------------------------------------


async def test_instagram_three_step_publish(
    instagram: FakeInstagram, session: aiohttp.ClientSession
) -> None:
    """Container, status, publish, permalink; publishing the same container again is refused."""
    api = instagram.api_url
    user = instagram.user_id
    token = {"access_token": "ig-token"}
    async with session.post(
        f"{api}/{user}/media",
        data={"image_url": "https://cdn.example.com/a.jpg", "caption": "Hi #tea", **token},
    ) as resp:
        container_id = (await resp.json())["id"]
    async with session.get(
        f"{api}/{container_id}", params={"fields": "status_code", **token}
    ) as resp:
        assert await resp.json() == {"status_code": "FINISHED", "id": container_id}
    async with session.post(
        f"{api}/{user}/media_publish", params={"creation_id": container_id, **token}
    ) as resp:
        media_id = (await resp.json())["id"]
    async with session.get(f"{api}/{media_id}", params={"fields": "permalink", **token}) as resp:
        permalink = (await resp.json())["permalink"]
    [media] = instagram.media
    assert permalink == media.permalink
    assert permalink.startswith("https://www.instagram.com/p/")
    assert media.caption == "Hi #tea"

    async with session.post(
        f"{api}/{user}/media_publish", params={"creation_id": container_id, **token}
    ) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert (error["code"], error["error_subcode"]) == (9007, 2207027)
    async with session.get(
        f"{api}/{media_id}", params={"fields": "permalink", "access_token": "bad"}
    ) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert (error["type"], error["code"]) == ("OAuthException", 190)
    assert [r.route for r in instagram.requests] == [
        "media",
        "status",
        "media_publish",
        "permalink",
        "media_publish",
        "permalink",
    ]


async def test_instagram_step_faults(
    instagram: FakeInstagram, session: aiohttp.ClientSession
) -> None:
    """A fault scripted for one step hits only that step, with a Graph-shaped body."""
    instagram.fail(Fault(status=500), step="media_publish")
    params = {"image_url": "https://cdn.example.com/a.jpg", "access_token": "ig-token"}
    async with session.post(f"{instagram.api_url}/{instagram.user_id}/media", params=params) as r:
        container_id = (await r.json())["id"]
    publish = {"creation_id": container_id, "access_token": "ig-token"}
    for expected in (500, 200):
        async with session.post(
            f"{instagram.api_url}/{instagram.user_id}/media_publish", params=publish
        ) as resp:
            assert resp.status == expected
            body = await resp.json()
    assert "id" in body
    assert instagram.requests[1].status == 500
