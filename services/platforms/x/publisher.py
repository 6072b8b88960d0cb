"""X (Twitter) through tweepy's AsyncClient, OAuth 1.0a user context.

tweepy hard-codes `https://api.twitter.com`. To honour `X_API_URL` the client gets a
`SignedSession`: the process's shared aiohttp session, with a per-request client middleware
that sends each request to the configured base URL and signs it again for that URL (an OAuth
1.0a signature covers the URL it was made for). Only X's own requests carry the middleware, so
Slack and the other platforms on the same session are untouched.
tweepy's `wait_on_rate_limit` is off (it breaks with OAuth 1.0a); a 429 becomes a transient
error carrying X's reset time, and the retry table waits it out.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import structlog
import tweepy
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from oauthlib.oauth1 import Client as OAuth1Client
from tweepy.asynchronous import AsyncClient
from yarl import URL

from services.errors import FailureReason, PermanentPublishError, PublishError
from services.platforms.base import Checkpoints, PublishResult, error_for_status, network_error
from services.platforms.x.thread import split_thread_async
from storage.models import Post

log = structlog.get_logger(__name__)

PLATFORM = "X"


def status_url(tweet_id: str) -> str:
    """The public link to a post on X."""
    return f"https://x.com/i/web/status/{tweet_id}"


class RebaseAndSign:
    """aiohttp client middleware: send tweepy's request to `base_url`, signed for that URL."""

    def __init__(self, base_url: str, oauth: OAuth1Client) -> None:
        self._base = URL(base_url)
        self._oauth = oauth

    def target(self, url: URL) -> URL:
        """Where a request tweepy made for `url` really goes."""
        prefix = self._base.raw_path.rstrip("/")
        return URL.build(
            scheme=self._base.scheme,
            host=self._base.raw_host or "",
            port=self._base.explicit_port,
            path=prefix + url.raw_path,
            query_string=url.raw_query_string,
            encoded=True,
        )

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        target = self.target(request.url)
        if target != request.url:
            request.url = target
            host = target.raw_host or ""
            request.headers["Host"] = (
                host if target.explicit_port is None else f"{host}:{target.explicit_port}"
            )
            method: Any = request.method
            _, signed, _ = self._oauth.sign(str(target), http_method=method)
            request.headers["Authorization"] = signed["Authorization"]
        return await handler(request)


class SignedSession:
    """What tweepy takes for its aiohttp session: the shared one, every request rebased and
    signed by `middleware` and limited to `timeout`. tweepy only calls `request`, and never
    closes a session it was given."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        middleware: RebaseAndSign,
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self._session = session
        self._middlewares = (middleware,)
        self._timeout = timeout

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        """`ClientSession.request`, through the middleware (an async context manager)."""
        return self._session.request(
            method, url, middlewares=self._middlewares, timeout=self._timeout, **kwargs
        )


def _detail(exc: tweepy.HTTPException) -> str:
    messages = [*exc.api_messages, *exc.api_errors]
    return "; ".join(str(m) for m in messages) or str(exc.response.reason or "")


def _is_duplicate(text: str) -> bool:
    return "duplicate" in text.lower()


class XPublisher:
    """Posts to X; the tweet id is the post's external id."""

    platform = "x"
    dry_run = False

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api_url: str,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        timeout: float = 30.0,
    ) -> None:
        oauth = OAuth1Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=access_token,
            resource_owner_secret=access_token_secret,
        )
        self._client = AsyncClient(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=dict,
        )
        self._client.session = SignedSession(
            session, RebaseAndSign(api_url, oauth), aiohttp.ClientTimeout(total=timeout)
        )

    async def create(self, text: str, *, in_reply_to: str | None = None) -> str:
        """Create one post (a reply when `in_reply_to` is given); returns its id."""
        try:
            response: Any = await self._client.create_tweet(
                text=text, in_reply_to_tweet_id=in_reply_to, user_auth=True
            )
        except tweepy.TooManyRequests as exc:
            reset = exc.reset_time
            wait = max(1.0, reset - time.time()) if reset else None
            raise error_for_status(PLATFORM, 429, _detail(exc), retry_after=wait) from exc
        except tweepy.Forbidden as exc:
            detail = _detail(exc)
            if _is_duplicate(detail):
                raise PermanentPublishError(
                    FailureReason.DUPLICATE,
                    "X refused it as duplicate content: this post may already be live on X",
                ) from exc
            raise error_for_status(PLATFORM, 403, detail) from exc
        except tweepy.HTTPException as exc:
            raise error_for_status(PLATFORM, exc.response.status, _detail(exc)) from exc
        except aiohttp.ContentTypeError as exc:
            # tweepy reads every error body as JSON; a proxy's HTML error page lands here.
            raise error_for_status(PLATFORM, exc.status, "an error page instead of JSON") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise network_error(PLATFORM, exc) from exc
        data = response.get("data") if isinstance(response, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            raise error_for_status(PLATFORM, 502, "an answer without a post id")
        return str(data["id"])

    async def publish(self, post: Post, checkpoints: Checkpoints) -> PublishResult:
        """Publish the post's text as one post, or as a reply chain when it is a thread.

        Each part's id is saved the moment X answers: a retry continues the chain from the
        first part not yet out and never posts a part twice.
        """
        parts = (
            await split_thread_async(post.message or "") if post.thread else [post.message or ""]
        )
        previous: str | None = None
        first: str | None = None
        for number, text in enumerate(parts, 1):
            step = f"part:{number}"
            tweet_id = checkpoints.get(step)
            if tweet_id is None:
                tweet_id = await self.create(text, in_reply_to=previous)
                await checkpoints.save(step, tweet_id)
                log.info("x_posted", post_id=post.id, tweet_id=tweet_id, part=number)
            first = first or tweet_id
            previous = tweet_id
        assert first is not None
        return PublishResult(external_id=first, url=status_url(first))


__all__ = ["PublishError", "RebaseAndSign", "SignedSession", "XPublisher", "status_url"]
