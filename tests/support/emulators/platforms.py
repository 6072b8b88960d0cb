"""Local stand-ins for the publishing platforms: X API v2, LinkedIn Posts API, Instagram Graph API.

Each fake answers like the real service does (status codes, JSON shapes, headers) for the
calls the bot makes, records every request, and can be scripted to fail (``fail``,
``fail_always``, ``recover``) or to create the post and then withhold the answer (``hold`` /
``release``: the "process killed while the publish request was in flight" case).

Facts the fakes follow, and where they come from (public docs and observed answers):

* X: OAuth 1.0a HMAC-SHA1 user context, checked for real against the URL the request reached;
  a bad signature gets 401 ``{"title": "Unauthorized", "type": "about:blank", "status": 401,
  "detail": "Unauthorized"}``; duplicate text gets 403 ``{"detail": "You are not allowed to
  create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden",
  "status": 403}``; a reply to a tweet that does not exist gets 403 ``{"detail": "You attempted
  to reply to a Tweet that is deleted or not visible to you.", ...}``; a malformed reply id gets
  400 ``invalid-request``; over 280 weighted characters gets 400 "Your Tweet text is too long.";
  a rate limit gets 429 ``{"title": "Too Many Requests", "detail": "Too Many Requests", "type":
  "about:blank", "status": 429}`` with ``x-rate-limit-*`` headers.
* LinkedIn: ``/rest/posts`` needs ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (missing:
  400 ``VERSION_MISSING``; inactive: 426 ``NONEXISTENT_VERSION``) and ``X-Restli-Protocol-Version:
  2.0.0``; schema errors are 422 ``{"message": "ERROR :: /field :: ...\\n", "status": 422}``;
  a duplicate post is 422 ``DUPLICATE_POST``; success is 201 with an empty body and
  ``x-restli-id: urn:li:share:<n>``. ``commentary`` is "little" text: the reserved characters
  ``\\ | { } @ [ ] ( ) < > # * _ ~`` must be backslash-escaped, and LinkedIn silently cuts the
  post at the first unescaped one (see :attr:`LinkedInPost.rendered`).
* Instagram: Graph API errors are ``{"error": {"message", "type", "code", "error_subcode"?,
  "fbtrace_id"}}``; a bad token is 400 ``OAuthException`` code 190; publishing a container that
  is not ``FINISHED`` (still processing, or already published) is 400 code 9007 subcode 2207027
  "Media ID is not available"; an unknown container is 400 code 24 subcode 2207006.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote

import oauthlib.oauth1
from aiohttp import web
from multidict import CIMultiDict
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from twitter_text import parse_tweet

from tests.support.emulators.base import Fault, LocalServer, wait_until

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass
class RecordedRequest:
    """One HTTP request a platform fake received, and what it answered."""

    method: str
    path: str
    route: str
    """Which API call it was (e.g. ``"tweets"``, ``"posts"``, ``"media_publish"``)."""
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    json: Any
    form: dict[str, str]
    at: float
    status: int | None = None
    """HTTP status answered; ``None`` while held or unanswered, or when the connection dropped."""


_RECORD = web.RequestKey("record", RecordedRequest)


class _PlatformServer(LocalServer):
    """Recording, fault and hold plumbing shared by the platform fakes."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.all_requests: list[RecordedRequest] = []
        self.held = 0
        #: Seconds every API call takes before it is answered (a platform's own latency).
        self.latency = 0.0
        self._hold_remaining = 0
        self._released = asyncio.Event()

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._record_middleware(request, handler)

        self.app.middlewares.append(record)

    # -- recording -------------------------------------------------------------------------

    def _route_of(self, request: web.Request) -> str:
        """The API call a request is; ``""`` for ones not kept in :attr:`requests`."""
        return ""

    async def _record_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        raw = await request.read()
        parsed_json: Any = None
        form: dict[str, str] = {}
        content_type = request.content_type
        if raw and content_type == "application/json":
            try:
                parsed_json = json.loads(raw)
            except ValueError:
                parsed_json = None
        elif raw and content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        route = self._route_of(request)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            route=route,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            body=raw,
            json=parsed_json,
            form=form,
            at=time.monotonic(),
        )
        request[_RECORD] = record
        self.all_requests.append(record)
        if route:
            self.requests.append(record)
            if self.latency:
                await asyncio.sleep(self.latency)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        record.status = response.status
        return response

    # -- faults ----------------------------------------------------------------------------

    def _error_for(self, status: int, request: web.Request) -> web.Response:
        """This platform's own error answer for a bare status code."""
        raise NotImplementedError

    async def _play(self, fault: Fault, request: web.Request) -> web.Response:
        """Answer with ``fault``; its body is the platform's error shape unless it brings one."""
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("emulated connection drop")
        if fault.json is not None or fault.text is not None:
            return fault.response()
        response = self._error_for(fault.status, request)
        response.headers.update(fault.headers)
        return response

    async def _apply_faults(self, keys: Iterable[str], request: web.Request) -> web.Response | None:
        for key in dict.fromkeys(keys):
            fault = self.faults.take(key)
            if fault is not None:
                return await self._play(fault, request)
        return None

    def recover(self) -> None:
        """Forget every scripted fault."""
        self.faults.clear()

    # -- hold / release --------------------------------------------------------------------

    def hold(self, n: int = 1) -> None:
        """Make the next ``n`` publish requests create the post, then wait for :meth:`release`.

        The post exists on the platform but the client gets no answer until released (or
        until it gives up), like a process killed while its publish request was in flight.
        """
        if self._released.is_set():
            self._released = asyncio.Event()
        self._hold_remaining += n

    def release(self) -> None:
        """Let every held request answer, and cancel holds not yet used."""
        self._hold_remaining = 0
        self._released.set()

    async def _maybe_hold(self) -> None:
        if self._hold_remaining <= 0:
            return
        self._hold_remaining -= 1
        released = self._released
        self.held += 1
        try:
            await released.wait()
        finally:
            self.held -= 1

    async def wait_for_held(self, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``n`` requests are being held (their post already exists)."""
        await wait_until(lambda: self.held >= n, timeout=timeout, message=f"{n} held request(s)")

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least ``n`` requests were recorded; return them all."""
        await wait_until(
            lambda: len(self.requests) >= n, timeout=timeout, message=f"{n} request(s)"
        )
        return list(self.requests)

    async def stop(self) -> None:
        """Release held requests, then stop serving."""
        self.release()
        await super().stop()


# ==== X ===================================================================================

X_MAX_WEIGHTED_LENGTH = 280
X_TOO_LONG = (
    "Your Tweet text is too long. For more information on how X determines text length see "
    "https://github.com/twitter/twitter-text."
)
X_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
X_REPLY_NOT_VISIBLE = "You attempted to reply to a Tweet that is deleted or not visible to you."
_TWEET_ID_RE = re.compile(r"^[0-9]{1,19}$")
_OAUTH_TIMESTAMP_WINDOW = 300.0


def x_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    """An X API v2 ``about:blank`` problem body, e.g. for 401, 403, 429 and 5xx."""
    title = _reason(status)
    return {"detail": detail or title, "type": "about:blank", "title": title, "status": status}


def x_invalid_request(parameter: str, value: str, message: str) -> dict[str, Any]:
    """X API v2's 400 ``invalid-request`` body for one bad parameter."""
    return {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


@dataclass
class Tweet:
    """A tweet that exists on the fake X."""

    id: str
    text: str
    in_reply_to: str | None
    at: float
    author_id: str = ""

    def as_data(self) -> dict[str, Any]:
        """The tweet as X API v2 returns it in ``data``."""
        return {"id": self.id, "text": self.text, "edit_history_tweet_ids": [self.id]}


class FakeX(_PlatformServer):
    """X API v2: ``POST /2/tweets`` and ``GET /2/users/me`` with real OAuth 1.0a checks.

    Also ``GET /2/tweets/{id}`` and ``GET /2/users/{id}/tweets`` so a bot can look for a tweet
    it may have created before it crashed. :attr:`requests` holds the ``POST /2/tweets`` calls
    (rejected ones included); :attr:`all_requests` holds everything.
    """

    _FAULT_KEY = "tweets"

    def __init__(
        self,
        consumer_key: str = "x-consumer-key",
        consumer_secret: str = "x-consumer-secret",
        access_token: str = "x-access-token",
        access_token_secret: str = "x-access-secret",
        *,
        user_id: str = "1500000000000000001",
        username: str = "socialpost_test",
        name: str = "Socialpost Test",
        rate_limit: int = 200,
    ) -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.user_id = user_id
        self.username = username
        self.name = name
        self.rate_limit = rate_limit
        self.tweets: list[Tweet] = []
        self._external: dict[str, Tweet] = {}
        self._ids = itertools.count(1800000000000000001)
        self._nonces: set[tuple[str, str]] = set()
        # Holds the two secrets for oauthlib's HMAC-SHA1 signer.
        self._signer = oauthlib.oauth1.Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=access_token,
            resource_owner_secret=access_token_secret,
        )
        self._remaining = rate_limit
        self._window_reset = int(time.time()) + 900
        router = self.app.router
        router.add_post("/2/tweets", self._create_tweet)
        router.add_get("/2/users/me", self._users_me)
        router.add_get("/2/tweets/{id}", self._get_tweet)
        router.add_get("/2/users/{id}/tweets", self._user_tweets)

    def _route_of(self, request: web.Request) -> str:
        return "tweets" if request.path == "/2/tweets" and request.method == "POST" else ""

    # -- scripting -------------------------------------------------------------------------

    def fail(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` ``POST /2/tweets`` fail with ``fault`` (X-shaped body)."""
        self.faults.push(self._FAULT_KEY, fault, times)

    def fail_always(self, fault: Fault) -> None:
        """Make every ``POST /2/tweets`` fail with ``fault`` until :meth:`recover`."""
        self.faults.always(self._FAULT_KEY, fault)

    @staticmethod
    def rate_limit_fault(reset_in: float = 900.0, limit: int = 200) -> Fault:
        """X's 429: problem body plus ``x-rate-limit-limit/remaining/reset`` headers."""
        return Fault(
            status=429,
            json=x_problem(429),
            headers={
                "x-rate-limit-limit": str(limit),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time() + reset_in)),
            },
        )

    def rate_limited(self, times: int = 1, reset_in: float = 900.0) -> None:
        """Answer the next ``times`` ``POST /2/tweets`` with X's 429."""
        self.fail(self.rate_limit_fault(reset_in, self.rate_limit), times)

    def seed_tweet(self, text: str, tweet_id: str | None = None) -> Tweet:
        """Make a tweet exist (by someone else) without it counting in :attr:`tweets`."""
        tweet = Tweet(
            id=tweet_id or str(next(self._ids)), text=text, in_reply_to=None, at=time.monotonic()
        )
        self._external[tweet.id] = tweet
        return tweet

    def delete_tweet(self, tweet_id: str) -> None:
        """Delete a tweet, as if its author removed it."""
        self.tweets = [t for t in self.tweets if t.id != tweet_id]
        self._external.pop(tweet_id, None)

    async def wait_for_tweets(self, n: int, timeout: float = 5.0) -> list[Tweet]:
        """Wait until at least ``n`` tweets exist; return them."""
        await wait_until(lambda: len(self.tweets) >= n, timeout=timeout, message=f"{n} tweet(s)")
        return list(self.tweets)

    # -- OAuth 1.0a ------------------------------------------------------------------------

    def _check_oauth(self, request: web.Request, raw_body: bytes) -> bool:
        """Verify the ``Authorization: OAuth ...`` HMAC-SHA1 signature for this exact request."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() != "oauth ":
            return False
        body: str | None = None
        if request.content_type == "application/x-www-form-urlencoded":
            body = raw_body.decode("utf-8", "replace")
        try:
            params = oauth_signature.collect_parameters(
                uri_query=request.rel_url.raw_query_string,
                body=body,
                headers={"Authorization": header},
                exclude_oauth_signature=False,
            )
        except ValueError:
            return False
        oauth = dict(p for p in params if p[0].startswith("oauth_"))
        if (
            oauth.get("oauth_consumer_key") != self.consumer_key
            or oauth.get("oauth_token") != self.access_token
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
            or oauth.get("oauth_version", "1.0") != "1.0"
            or not oauth.get("oauth_nonce")
            or not oauth.get("oauth_signature")
        ):
            return False
        try:
            timestamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return False
        if abs(time.time() - timestamp) > _OAUTH_TIMESTAMP_WINDOW:
            return False
        uri = oauth_signature.base_string_uri(
            f"{request.scheme}://{request.host}{request.rel_url.raw_path}"
        )
        base = oauth_signature.signature_base_string(
            request.method,
            uri,
            oauth_signature.normalize_parameters([p for p in params if p[0] != "oauth_signature"]),
        )
        expected = oauth_signature.sign_hmac_sha1_with_client(base, self._signer)
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            return False
        nonce = (oauth["oauth_nonce"], str(timestamp))
        if nonce in self._nonces:  # a replayed request
            return False
        self._nonces.add(nonce)
        return True

    # -- responses -------------------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        if now >= self._window_reset:
            self._window_reset = int(now) + 900
            self._remaining = self.rate_limit
        return {
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": str(max(self._remaining, 0)),
            "x-rate-limit-reset": str(self._window_reset),
        }

    def _json(self, body: Any, status: int = 200) -> web.Response:
        return web.json_response(body, status=status, headers=self._rate_headers())

    def _error_for(self, status: int, request: web.Request) -> web.Response:
        return self._json(x_problem(status), status)

    def _unauthorized(self) -> web.Response:
        return self._json(
            {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
            401,
        )

    def _all_tweets(self) -> dict[str, Tweet]:
        return {**self._external, **{t.id: t for t in self.tweets}}

    # -- handlers --------------------------------------------------------------------------

    async def _create_tweet(self, request: web.Request) -> web.StreamResponse:
        record: RecordedRequest = request[_RECORD]
        failed = await self._apply_faults([self._FAULT_KEY], request)
        if failed is not None:
            return failed
        if not self._check_oauth(request, record.body):
            return self._unauthorized()
        body = record.json
        if not isinstance(body, dict):
            raw = record.body.decode("utf-8", "replace")
            return self._json(
                x_invalid_request("body", raw, "The request body is not a valid JSON object."),
                400,
            )
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return self._json(
                x_invalid_request("$", json.dumps(body), "$.text: is missing but it is required"),
                400,
            )
        if parse_tweet(text).weightedLength > X_MAX_WEIGHTED_LENGTH:
            return self._json(x_problem(400, X_TOO_LONG), 400)
        in_reply_to: str | None = None
        reply = body.get("reply")
        if reply is not None:
            reply_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if reply_id is None:
                return self._json(
                    x_invalid_request(
                        "$.reply",
                        json.dumps(reply),
                        "$.reply.in_reply_to_tweet_id: is missing but it is required",
                    ),
                    400,
                )
            if not isinstance(reply_id, str) or not _TWEET_ID_RE.match(reply_id):
                return self._json(
                    x_invalid_request(
                        "reply.in_reply_to_tweet_id",
                        str(reply_id),
                        "$.reply.in_reply_to_tweet_id: does not match the regex pattern "
                        "^[0-9]{1,19}$",
                    ),
                    400,
                )
            if reply_id not in self._all_tweets():
                return self._json(x_problem(403, X_REPLY_NOT_VISIBLE), 403)
            in_reply_to = reply_id
        if any(t.text == text for t in self.tweets):
            return self._json(x_problem(403, X_DUPLICATE), 403)
        tweet = Tweet(
            id=str(next(self._ids)),
            text=text,
            in_reply_to=in_reply_to,
            at=time.monotonic(),
            author_id=self.user_id,
        )
        self.tweets.append(tweet)
        self._remaining -= 1
        await self._maybe_hold()
        return self._json({"data": tweet.as_data()}, 201)

    async def _users_me(self, request: web.Request) -> web.StreamResponse:
        if not self._check_oauth(request, request[_RECORD].body):
            return self._unauthorized()
        return self._json(
            {"data": {"id": self.user_id, "name": self.name, "username": self.username}}
        )

    async def _get_tweet(self, request: web.Request) -> web.StreamResponse:
        if not self._check_oauth(request, request[_RECORD].body):
            return self._unauthorized()
        tweet_id = request.match_info["id"]
        tweet = self._all_tweets().get(tweet_id)
        if tweet is None:
            return self._json(
                {
                    "errors": [
                        {
                            "value": tweet_id,
                            "detail": f"Could not find tweet with id: [{tweet_id}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "id",
                            "resource_id": tweet_id,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                }
            )
        return self._json({"data": tweet.as_data()})

    async def _user_tweets(self, request: web.Request) -> web.StreamResponse:
        if not self._check_oauth(request, request[_RECORD].body):
            return self._unauthorized()
        if request.match_info["id"] != self.user_id:
            return self._json({"meta": {"result_count": 0}})
        newest_first = [t.as_data() for t in reversed(self.tweets)]
        try:
            limit = int(request.query.get("max_results", "10"))
        except ValueError:
            limit = 10
        data = newest_first[:limit]
        if not data:
            return self._json({"meta": {"result_count": 0}})
        return self._json(
            {
                "data": data,
                "meta": {
                    "result_count": len(data),
                    "newest_id": data[0]["id"],
                    "oldest_id": data[-1]["id"],
                },
            }
        )


# ==== LinkedIn ============================================================================

LITTLE_TEXT_RESERVED = frozenset("\\|{}@[]()<>#*_~")
"""Characters LinkedIn's "little" text format reserves; plain text must backslash-escape them."""

_MENTION_RE = re.compile(r"@\[[^\]\\]*\]\(urn:li:(?:person|organization):[^)\s]+\)")
_HASHTAG_TEMPLATE_RE = re.compile(r"\{hashtag\|\\?[#\uff03]\|[^}|]+\}")
_HASHTAG_RE = re.compile(r"#\w+")
_URN_RE = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
_VERSION_RE = re.compile(r"^\d{6}(\.\d{2})?$")

_POST_FIELDS = frozenset(
    {
        "author",
        "commentary",
        "visibility",
        "distribution",
        "content",
        "contentLandingPage",
        "contentCallToActionLabel",
        "lifecycleState",
        "isReshareDisabledByAuthor",
        "reshareContext",
        "adContext",
        "container",
        "publishedAt",
        "lifecycleStateInfo",
    }
)
_DISTRIBUTION_FIELDS = frozenset(
    {"feedDistribution", "targetEntities", "thirdPartyDistributionChannels"}
)
_VISIBILITY = frozenset({"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"})
_LIFECYCLE = frozenset({"PUBLISHED", "DRAFT", "PUBLISH_REQUESTED", "PUBLISH_FAILED"})
_FEED_DISTRIBUTION = frozenset({"MAIN_FEED", "NONE"})
LINKEDIN_MAX_COMMENTARY = 3000


def escape_little_text(text: str) -> str:
    """Backslash-escape every reserved character so LinkedIn shows ``text`` literally."""
    return "".join("\\" + ch if ch in LITTLE_TEXT_RESERVED else ch for ch in text)


def unescape_little_text(text: str) -> str:
    """Undo :func:`escape_little_text`: drop the backslash before each escaped character."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in LITTLE_TEXT_RESERVED:
            out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _little_elements(text: str) -> tuple[str, list[int]]:
    """Render little text as LinkedIn shows it and list where unescaped reserved chars are.

    Escapes become literal characters, mentions ``@[Name](urn:li:...)`` become ``Name``, hashtag
    templates and plain ``#tag`` hashtags become ``#tag``. Rendering stops at the first reserved
    character that is neither escaped nor part of such an element (LinkedIn truncates there).
    """
    rendered: list[str] = []
    bad: list[int] = []
    truncated = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in LITTLE_TEXT_RESERVED:
            if not truncated:
                rendered.append(text[i + 1])
            i += 2
            continue
        if ch in LITTLE_TEXT_RESERVED:
            piece: str | None = None
            match = None
            if ch == "@":
                match = _MENTION_RE.match(text, i)
                if match:
                    piece = match.group(0)[2 : match.group(0).index("]")]
            elif ch == "{":
                match = _HASHTAG_TEMPLATE_RE.match(text, i)
                if match:
                    piece = "#" + match.group(0).rsplit("|", 1)[1][:-1]
            elif ch == "#":
                match = _HASHTAG_RE.match(text, i)
                if match:
                    piece = match.group(0)
            if match is not None and piece is not None:
                if not truncated:
                    rendered.append(piece)
                i = match.end()
                continue
            bad.append(i)
            truncated = True
            i += 1
            continue
        if not truncated:
            rendered.append(ch)
        i += 1
    return "".join(rendered), bad


def unescaped_reserved(text: str) -> list[int]:
    """Positions of reserved characters in ``text`` that LinkedIn would not treat as plain text."""
    return _little_elements(text)[1]


def render_little_text(text: str) -> str:
    """What LinkedIn displays for this ``commentary`` (cut at the first unescaped reserved char)."""
    return _little_elements(text)[0]


def linkedin_error(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """A LinkedIn REST error body: ``{"status", "message", ...}`` plus e.g. ``code``."""
    return {"status": status, **extra, "message": message}


@dataclass
class LinkedInPost:
    """A post that exists on the fake LinkedIn."""

    urn: str
    author: str
    commentary: str
    """``commentary`` exactly as received (still little-text escaped)."""
    visibility: str
    lifecycle_state: str
    body: dict[str, Any]
    headers: CIMultiDict[str]
    at: float

    @property
    def text(self) -> str:
        """The commentary with little-text escapes removed."""
        return unescape_little_text(self.commentary)

    @property
    def rendered(self) -> str:
        """What LinkedIn members see: cut at the first unescaped reserved character."""
        return render_little_text(self.commentary)

    @property
    def unescaped_reserved(self) -> list[int]:
        """Positions of reserved characters the sender forgot to escape (empty when correct)."""
        return unescaped_reserved(self.commentary)


class FakeLinkedIn(_PlatformServer):
    """LinkedIn Community Management API: ``POST /rest/posts`` (and reads of what was posted).

    ``active_versions`` limits which ``LinkedIn-Version`` values are accepted (default: any
    well-formed ``YYYYMM`` or ``YYYYMM.RR``).
    """

    _FAULT_KEY = "posts"

    def __init__(
        self,
        access_token: str = "li-token",
        *,
        active_versions: Iterable[str] | None = None,
        reject_duplicates: bool = True,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.active_versions = set(active_versions) if active_versions is not None else None
        self.reject_duplicates = reject_duplicates
        self.posts: list[LinkedInPost] = []
        self._ids = itertools.count(7300000000000000001)
        router = self.app.router
        router.add_post("/rest/posts", self._create_post)
        router.add_get("/rest/posts", self._find_posts)
        router.add_get("/rest/posts/{urn}", self._get_post)

    def _route_of(self, request: web.Request) -> str:
        if request.path == "/rest/posts" and request.method == "POST":
            return "posts"
        if request.path == "/rest/posts":
            return "find_posts"
        return "get_post" if request.path.startswith("/rest/posts/") else ""

    def fail(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` ``POST /rest/posts`` fail with ``fault`` (LinkedIn-shaped)."""
        self.faults.push(self._FAULT_KEY, fault, times)

    def fail_always(self, fault: Fault) -> None:
        """Make every ``POST /rest/posts`` fail with ``fault`` until :meth:`recover`."""
        self.faults.always(self._FAULT_KEY, fault)

    async def wait_for_posts(self, n: int, timeout: float = 5.0) -> list[LinkedInPost]:
        """Wait until at least ``n`` posts exist; return them."""
        await wait_until(lambda: len(self.posts) >= n, timeout=timeout, message=f"{n} post(s)")
        return list(self.posts)

    def _error_for(self, status: int, request: web.Request) -> web.Response:
        code = _reason(status).upper().replace(" ", "_").replace("-", "_")
        return web.json_response(linkedin_error(status, _reason(status), code=code), status=status)

    def _gatekeep(self, request: web.Request) -> web.Response | None:
        """Token, version and protocol headers, checked like LinkedIn's gateway does."""
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
        if not token:
            return web.json_response(
                linkedin_error(
                    401,
                    "Empty oauth2 access token",
                    serviceErrorCode=65604,
                    code="EMPTY_ACCESS_TOKEN",
                ),
                status=401,
            )
        if token != self.access_token:
            return web.json_response(
                linkedin_error(
                    401, "Invalid access token", serviceErrorCode=65600, code="INVALID_ACCESS_TOKEN"
                ),
                status=401,
            )
        version = request.headers.get("LinkedIn-Version")
        if not version:
            return web.json_response(
                linkedin_error(
                    400,
                    "A version must be present. Please specify a version by adding the "
                    "LinkedIn-Version header.",
                    code="VERSION_MISSING",
                ),
                status=400,
                headers={"X-Restli-Gateway-Error": "true"},
            )
        if not _VERSION_RE.match(version) or (
            self.active_versions is not None and version not in self.active_versions
        ):
            return web.json_response(
                linkedin_error(
                    426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
                ),
                status=426,
                headers={"X-Restli-Gateway-Error": "true"},
            )
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return web.json_response(
                linkedin_error(400, "X-Restli-Protocol-Version: 2.0.0 header is required"),
                status=400,
            )
        return None

    @staticmethod
    def _validate(body: dict[str, Any]) -> list[str]:
        """Rest.li schema errors, as ``ERROR :: /path :: reason`` lines."""
        errors: list[str] = []
        for name in body:
            if name not in _POST_FIELDS:
                errors.append(f"/{name} :: unrecognized field found but not allowed")
        for name in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if name not in body:
                errors.append(
                    f"/{name} :: field is required but not found and has no default value"
                )
        author = body.get("author")
        if isinstance(author, str) and not _URN_RE.match(author):
            errors.append(f'/author :: "{author}" is not a valid person or organization urn')
        elif "author" in body and not isinstance(author, str):
            errors.append(f"/author :: {json.dumps(author)} is not a string")
        commentary = body.get("commentary")
        if "commentary" in body and not isinstance(commentary, str):
            errors.append(f"/commentary :: {json.dumps(commentary)} is not a string")
        elif isinstance(commentary, str) and len(commentary) > LINKEDIN_MAX_COMMENTARY:
            errors.append(
                f"/commentary :: length of commentary ({len(commentary)}) is out of range "
                f"0...{LINKEDIN_MAX_COMMENTARY}"
            )
        for name, allowed in (("visibility", _VISIBILITY), ("lifecycleState", _LIFECYCLE)):
            if name in body and body[name] not in allowed:
                errors.append(f"/{name} :: {json.dumps(body[name])} is not an enum symbol")
        distribution = body.get("distribution")
        if "distribution" in body:
            if not isinstance(distribution, dict):
                errors.append("/distribution :: not a record")
            else:
                for name in distribution:
                    if name not in _DISTRIBUTION_FIELDS:
                        errors.append(
                            f"/distribution/{name} :: unrecognized field found but not allowed"
                        )
                if "feedDistribution" not in distribution:
                    errors.append(
                        "/distribution/feedDistribution :: field is required but not found and "
                        "has no default value"
                    )
                elif distribution["feedDistribution"] not in _FEED_DISTRIBUTION:
                    errors.append(
                        "/distribution/feedDistribution :: "
                        f"{json.dumps(distribution['feedDistribution'])} is not an enum symbol"
                    )
        if "isReshareDisabledByAuthor" in body and not isinstance(
            body["isReshareDisabledByAuthor"], bool
        ):
            errors.append("/isReshareDisabledByAuthor :: not a boolean")
        return errors

    async def _create_post(self, request: web.Request) -> web.StreamResponse:
        record: RecordedRequest = request[_RECORD]
        failed = await self._apply_faults([self._FAULT_KEY], request)
        if failed is not None:
            return failed
        rejected = self._gatekeep(request)
        if rejected is not None:
            return rejected
        body = record.json
        if not isinstance(body, dict):
            return web.json_response(
                linkedin_error(400, "Invalid JSON: the request body is not a JSON object"),
                status=400,
            )
        errors = self._validate(body)
        if errors:
            message = "".join(f"ERROR :: {line}\n" for line in errors)
            return web.json_response(linkedin_error(422, message), status=422)
        commentary: str = body["commentary"]
        if self.reject_duplicates:
            for post in self.posts:
                if post.author == body["author"] and post.commentary == commentary:
                    return web.json_response(
                        {
                            "errorDetailType": "com.linkedin.common.error.BadRequest",
                            "message": "com.linkedin.content.common.exception."
                            f"BadRequestResponseException: Content is a duplicate of {post.urn}",
                            "errorDetails": {
                                "inputErrors": [
                                    {
                                        "description": "Duplicate post is detected",
                                        "input": {},
                                        "code": "DUPLICATE_POST",
                                    }
                                ]
                            },
                            "status": 422,
                        },
                        status=422,
                    )
        urn = f"urn:li:share:{next(self._ids)}"
        self.posts.append(
            LinkedInPost(
                urn=urn,
                author=body["author"],
                commentary=commentary,
                visibility=body["visibility"],
                lifecycle_state=body["lifecycleState"],
                body=body,
                headers=record.headers,
                at=time.monotonic(),
            )
        )
        await self._maybe_hold()
        return web.Response(
            status=201,
            headers={
                "x-restli-id": urn,
                "Location": f"/rest/posts/{quote(urn, safe='')}",
                "X-RestLi-Protocol-Version": "2.0.0",
            },
        )

    @staticmethod
    def _post_json(post: LinkedInPost) -> dict[str, Any]:
        return {
            **post.body,
            "id": post.urn,
            "lifecycleState": post.lifecycle_state,
            "visibility": post.visibility,
        }

    async def _get_post(self, request: web.Request) -> web.StreamResponse:
        rejected = self._gatekeep(request)
        if rejected is not None:
            return rejected
        urn = request.match_info["urn"]
        for post in self.posts:
            if post.urn == urn:
                return web.json_response(self._post_json(post))
        return web.json_response(linkedin_error(404, f"Not Found: {urn}"), status=404)

    async def _find_posts(self, request: web.Request) -> web.StreamResponse:
        rejected = self._gatekeep(request)
        if rejected is not None:
            return rejected
        if request.query.get("q") != "author" or "author" not in request.query:
            return web.json_response(
                linkedin_error(400, "The finder requires q=author and an author"), status=400
            )
        author = request.query["author"]
        found = [self._post_json(p) for p in reversed(self.posts) if p.author == author]
        return web.json_response(
            {
                "paging": {"start": 0, "count": 10, "links": [], "total": len(found)},
                "elements": found,
            }
        )


# ==== Instagram ===========================================================================

INSTAGRAM_STEPS = ("media", "status", "media_publish", "permalink")


def graph_error(
    message: str,
    code: int,
    *,
    kind: str = "OAuthException",
    subcode: int | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
    transient: bool | None = None,
) -> dict[str, Any]:
    """A Graph API error body: ``{"error": {"message", "type", "code", ..., "fbtrace_id"}}``."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = secrets.token_urlsafe(17)[:23]
    return {"error": error}


def _unsupported(method: str, object_id: str) -> dict[str, Any]:
    return graph_error(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100,
        kind="GraphMethodException",
        subcode=33,
    )


@dataclass
class IGContainer:
    """A media container created with ``POST /{ig-user-id}/media``."""

    id: str
    image_url: str
    caption: str
    at: float
    status_code: str = "IN_PROGRESS"
    polls: int = 0
    media_id: str | None = None


@dataclass
class IGMedia:
    """A published Instagram post."""

    id: str
    container_id: str
    caption: str
    image_url: str
    shortcode: str
    at: float
    timestamp: str = ""

    @property
    def permalink(self) -> str:
        """``https://www.instagram.com/p/<shortcode>/``."""
        return f"https://www.instagram.com/p/{self.shortcode}/"


class FakeInstagram(_PlatformServer):
    """Instagram Graph API content publishing, under ``/{version}``.

    ``processing_polls`` makes each new container report ``IN_PROGRESS`` for that many status
    reads before ``FINISHED`` (0: finished at once). Point ``INSTAGRAM_API_URL`` at
    :attr:`api_url`.
    """

    def __init__(
        self,
        access_token: str = "ig-token",
        user_id: str = "17841400000000000",
        *,
        version: str = "v21.0",
        username: str = "socialpost_test",
        processing_polls: int = 0,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.user_id = user_id
        self.version = version
        self.username = username
        self.processing_polls = processing_polls
        self.containers: list[IGContainer] = []
        self.media: list[IGMedia] = []
        self._container_ids = itertools.count(17900000000000001)
        self._media_ids = itertools.count(17950000000000001)
        prefix = f"/{version}"
        router = self.app.router
        router.add_post(prefix + "/{user}/media", self._create_container)
        router.add_post(prefix + "/{user}/media_publish", self._publish)
        router.add_get(prefix + "/{user}/media", self._list_media)
        router.add_get(prefix + "/{object}", self._get_object)
        router.add_route("*", "/{tail:.*}", self._unknown_path)

    @property
    def api_url(self) -> str:
        """Base URL including the version, e.g. ``http://127.0.0.1:1234/v21.0``."""
        return f"{self.url}/{self.version}"

    def _route_of(self, request: web.Request) -> str:
        parts = request.path.strip("/").split("/")
        if len(parts) == 3 and parts[2] in ("media", "media_publish") and request.method == "POST":
            return parts[2]
        if len(parts) == 3 and parts[2] == "media":
            return "list_media"
        if len(parts) == 2 and request.method == "GET":
            if any(c.id == parts[1] for c in self.containers):
                return "status"
            return "permalink"
        return "other"

    # -- scripting -------------------------------------------------------------------------

    def fail(self, fault: Fault, times: int = 1, step: str = "any") -> None:
        """Make the next ``times`` requests of ``step`` fail (Graph-shaped error body).

        ``step`` is ``"media"`` (create container), ``"status"`` (container status read),
        ``"media_publish"``, ``"permalink"`` (media read) or ``"any"``.
        """
        self.faults.push(self._step_key(step), fault, times)

    def fail_always(self, fault: Fault, step: str = "any") -> None:
        """Make every request of ``step`` fail with ``fault`` until :meth:`recover`."""
        self.faults.always(self._step_key(step), fault)

    @staticmethod
    def _step_key(step: str) -> str:
        if step != "any" and step not in INSTAGRAM_STEPS:
            raise ValueError(f"unknown Instagram step {step!r}; use one of {INSTAGRAM_STEPS}")
        return step

    @staticmethod
    def publish_limit_fault() -> Fault:
        """The daily content-publishing limit (400, code 9, subcode 2207042)."""
        return Fault(
            status=400,
            json=graph_error(
                "Application request limit reached",
                9,
                subcode=2207042,
                transient=False,
                user_title="Reached the maximum number of posts",
                user_msg="You reached maximum number of posts that is allowed to be published "
                "by Content Publishing API.",
            ),
        )

    async def wait_for_media(self, n: int, timeout: float = 5.0) -> list[IGMedia]:
        """Wait until at least ``n`` posts are published; return them."""
        await wait_until(lambda: len(self.media) >= n, timeout=timeout, message=f"{n} media")
        return list(self.media)

    # -- helpers ---------------------------------------------------------------------------

    def _graph(self, body: dict[str, Any], status: int = 200) -> web.Response:
        headers = {"facebook-api-version": self.version, "x-fb-trace-id": uuid.uuid4().hex[:11]}
        if status == 400 and body.get("error", {}).get("code") == 190:
            headers["WWW-Authenticate"] = (
                'OAuth "Facebook Platform" "invalid_token" "' + body["error"]["message"] + '"'
            )
        return web.json_response(body, status=status, headers=headers)

    def _error_for(self, status: int, request: web.Request) -> web.Response:
        if status >= 500:
            body = graph_error(
                "An unexpected error has occurred. Please retry your request later.",
                2,
                transient=True,
            )
        else:
            body = graph_error("An unknown error has occurred.", 1, transient=False)
        return self._graph(body, status)

    def _params(self, request: web.Request) -> dict[str, str]:
        """Graph API parameters: query string, form body or JSON body."""
        record: RecordedRequest = request[_RECORD]
        params: dict[str, str] = dict(record.query)
        params.update(record.form)
        if isinstance(record.json, dict):
            params.update(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in record.json.items()}
            )
        return params

    def _check_token(self, request: web.Request, params: dict[str, str]) -> web.Response | None:
        token = params.get("access_token")
        auth = request.headers.get("Authorization", "")
        for scheme in ("Bearer ", "OAuth "):
            if token is None and auth.startswith(scheme):
                token = auth[len(scheme) :].strip()
        if not token:
            return self._graph(
                graph_error("An access token is required to request this resource.", 104), 400
            )
        if token != self.access_token:
            return self._graph(
                graph_error("Invalid OAuth access token - Cannot parse access token", 190), 400
            )
        return None

    async def _start(
        self, step: str, request: web.Request
    ) -> tuple[dict[str, str], web.Response | None]:
        failed = await self._apply_faults([step, "any"], request)
        if failed is not None:
            return {}, failed
        params = self._params(request)
        return params, self._check_token(request, params)

    def _media_fields(self, media: IGMedia, wanted: list[str]) -> dict[str, Any] | str:
        available: dict[str, Any] = {
            "id": media.id,
            "permalink": media.permalink,
            "caption": media.caption,
            "media_type": "IMAGE",
            "media_product_type": "FEED",
            "media_url": media.image_url,
            "shortcode": media.shortcode,
            "timestamp": media.timestamp,
            "username": self.username,
        }
        out: dict[str, Any] = {}
        for name in wanted:
            if name not in available:
                return name
            out[name] = available[name]
        out.setdefault("id", media.id)
        return out

    # -- handlers --------------------------------------------------------------------------

    async def _create_container(self, request: web.Request) -> web.StreamResponse:
        params, rejected = await self._start("media", request)
        if rejected is not None:
            return rejected
        user = request.match_info["user"]
        if user != self.user_id:
            return self._graph(_unsupported("post", user), 400)
        image_url = params.get("image_url", "")
        if not image_url:
            return self._graph(graph_error("(#100) The parameter image_url is required", 100), 400)
        if not image_url.startswith(("http://", "https://")):
            return self._graph(
                graph_error(
                    "Only photo or video can be accepted as media type.",
                    9004,
                    subcode=2207052,
                    transient=False,
                    user_title="Media download has failed.",
                    user_msg="The media URI doesn't meet our requirements.",
                ),
                400,
            )
        container = IGContainer(
            id=str(next(self._container_ids)),
            image_url=image_url,
            caption=params.get("caption", ""),
            at=time.monotonic(),
            status_code="IN_PROGRESS" if self.processing_polls > 0 else "FINISHED",
        )
        self.containers.append(container)
        return self._graph({"id": container.id})

    async def _publish(self, request: web.Request) -> web.StreamResponse:
        params, rejected = await self._start("media_publish", request)
        if rejected is not None:
            return rejected
        user = request.match_info["user"]
        if user != self.user_id:
            return self._graph(_unsupported("post", user), 400)
        creation_id = params.get("creation_id", "")
        if not creation_id:
            return self._graph(
                graph_error("(#100) The parameter creation_id is required", 100), 400
            )
        container = next((c for c in self.containers if c.id == creation_id), None)
        if container is None:
            return self._graph(
                graph_error(
                    f"The media with id {creation_id} cannot be found",
                    24,
                    subcode=2207006,
                    transient=False,
                    user_title="Media not found",
                    user_msg=f"The media with {creation_id} cannot be found.",
                ),
                400,
            )
        if container.status_code != "FINISHED":
            return self._graph(
                graph_error(
                    "Media ID is not available",
                    9007,
                    subcode=2207027,
                    transient=False,
                    user_title="Media ID is not available",
                    user_msg="The media is not ready for publishing, please wait for a moment",
                ),
                400,
            )
        media_id = str(next(self._media_ids))
        digest = hashlib.sha256(media_id.encode()).digest()
        shortcode = "C" + base64.urlsafe_b64encode(digest).decode()[:10]
        media = IGMedia(
            id=media_id,
            container_id=container.id,
            caption=container.caption,
            image_url=container.image_url,
            shortcode=shortcode,
            at=time.monotonic(),
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
        )
        container.status_code = "PUBLISHED"
        container.media_id = media_id
        self.media.append(media)
        await self._maybe_hold()
        return self._graph({"id": media_id})

    async def _get_object(self, request: web.Request) -> web.StreamResponse:
        object_id = request.match_info["object"]
        container = next((c for c in self.containers if c.id == object_id), None)
        step = "status" if container is not None else "permalink"
        params, rejected = await self._start(step, request)
        if rejected is not None:
            return rejected
        wanted = [f for f in params.get("fields", "").split(",") if f]
        if container is not None:
            if container.status_code == "IN_PROGRESS":
                container.polls += 1
                if container.polls > self.processing_polls:
                    container.status_code = "FINISHED"
            statuses = {
                "IN_PROGRESS": "In Progress: Media is still being processed.",
                "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
                "PUBLISHED": "Published: Media has been successfully published.",
            }
            values = {
                "id": container.id,
                "status_code": container.status_code,
                "status": statuses[container.status_code],
            }
            unknown = [f for f in wanted if f not in values]
            if unknown:
                return self._nonexisting_field(unknown[0], "ShadowIGMediaBuilder")
            out = {name: values[name] for name in wanted}
            out.setdefault("id", container.id)
            return self._graph(out)
        media = next((m for m in self.media if m.id == object_id), None)
        if media is None:
            return self._graph(_unsupported("get", object_id), 400)
        fields = self._media_fields(media, wanted or ["id"])
        if isinstance(fields, str):
            return self._nonexisting_field(fields, "ShadowIGMedia")
        return self._graph(fields)

    def _nonexisting_field(self, name: str, node: str) -> web.Response:
        return self._graph(
            graph_error(
                f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})", 100
            ),
            400,
        )

    async def _list_media(self, request: web.Request) -> web.StreamResponse:
        params, rejected = await self._start("any", request)
        if rejected is not None:
            return rejected
        user = request.match_info["user"]
        if user != self.user_id:
            return self._graph(_unsupported("get", user), 400)
        wanted = [f for f in params.get("fields", "").split(",") if f] or ["id"]
        data: list[dict[str, Any]] = []
        for media in reversed(self.media):
            fields = self._media_fields(media, wanted)
            if isinstance(fields, str):
                return self._nonexisting_field(fields, "ShadowIGMedia")
            data.append(fields)
        return self._graph({"data": data, "paging": {"cursors": {"before": "", "after": ""}}})

    async def _unknown_path(self, request: web.Request) -> web.StreamResponse:
        return self._graph(graph_error(f"Unknown path components: {request.path}", 2500), 400)
