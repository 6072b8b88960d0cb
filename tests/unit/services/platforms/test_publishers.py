"""The publishers against the local fakes of their APIs, on one shared HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.errors import (
    FailureReason,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from services.platforms.instagram.publisher import InstagramPublisher
from services.platforms.linkedin.publisher import LinkedInPublisher, little_text
from services.platforms.x.publisher import XPublisher
from storage.models import Post, PostStatus
from tests.support.emulators.base import Fault
from tests.support.emulators.platforms import (
    FakeInstagram,
    FakeLinkedIn,
    FakeX,
    graph_error,
    render_little_text,
    unescaped_reserved,
)

AUTHOR = "urn:li:organization:1234567"
VERSION = "202610"
IMAGE = "https://images.example.com/tea.jpg"


class MemoryCheckpoints:
    """Publishing steps kept in a dict, with every save recorded."""

    def __init__(self, **done: str) -> None:
        self.done = dict(done)
        self.saves: list[tuple[str, str]] = []

    def get(self, step: str) -> str | None:
        return self.done.get(step)

    async def save(self, step: str, external_id: str) -> None:
        self.done[step] = external_id
        self.saves.append((step, external_id))


def post(message: str, *, platform: str = "linkedin", image_url: str | None = None) -> Post:
    """An approved post with this text."""
    return Post(
        id="post-1",
        status=PostStatus.APPROVED,
        platform=platform,
        message=message,
        image_url=image_url,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )


def ig_post(message: str = "Fresh tea, fresh start #tea", image: str | None = IMAGE) -> Post:
    """An approved Instagram post with an image."""
    return post(message, platform="instagram", image_url=image)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session for the test's publishers, as the runtime shares one."""
    async with aiohttp.ClientSession() as shared:
        yield shared


@pytest.fixture
async def linkedin() -> AsyncIterator[FakeLinkedIn]:
    """A running fake LinkedIn that knows one active version."""
    async with FakeLinkedIn(active_versions=[VERSION]) as server:
        yield server


@pytest.fixture
async def li(linkedin: FakeLinkedIn, session: aiohttp.ClientSession) -> LinkedInPublisher:
    """A LinkedIn publisher pointed at the fake."""
    publisher = linkedin_publisher(session, linkedin, timeout=2.0)
    return publisher


@pytest.fixture
async def instagram() -> AsyncIterator[FakeInstagram]:
    """A running fake Instagram Graph API."""
    async with FakeInstagram() as server:
        yield server


@pytest.fixture
async def ig(instagram: FakeInstagram, session: aiohttp.ClientSession) -> InstagramPublisher:
    """An Instagram publisher pointed at the fake, polling fast."""
    publisher = InstagramPublisher(
        session=session,
        api_url=instagram.api_url,
        access_token=instagram.access_token,
        user_id=instagram.user_id,
        timeout=2.0,
        poll_interval=0.01,
        poll_timeout=2.0,
    )
    return publisher


def linkedin_publisher(
    session: aiohttp.ClientSession, linkedin: FakeLinkedIn, **changes: object
) -> LinkedInPublisher:
    """A LinkedIn publisher pointed at the fake, with the fake's token; `changes` override
    its arguments."""
    arguments: dict[str, object] = {
        "api_url": linkedin.url,
        "access_token": linkedin.access_token,
        "author_urn": AUTHOR,
        "version": VERSION,
        **changes,
    }
    return LinkedInPublisher(session=session, **arguments)  # type: ignore[arg-type]


async def publish_error(publisher: LinkedInPublisher | InstagramPublisher, p: Post) -> PublishError:
    """Publish `p` expecting a failure; the error."""
    with pytest.raises(PublishError) as caught:
        await publisher.publish(p, MemoryCheckpoints())
    return caught.value


# -- little text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello world", "Hello world"),
        (r"\|{}@[]()<>#*_~", r"\\\|\{\}\@\[\]\(\)\<\>\#\*\_\~"),
        ("Tea (hot) [iced] {cold}", r"Tea \(hot\) \[iced\] \{cold\}"),
        ("ends in a backslash\\", r"ends in a backslash\\"),
        (r"a\\b", r"a\\\\b"),
        (r"already \# escaped", r"already \\\# escaped"),
        ("ask @team_lead <now> *really* ~maybe~", r"ask \@team\_lead \<now\> \*really\* \~maybe\~"),
        ("pipe | here", r"pipe \| here"),
        ("", ""),
    ],
)
def test_little_text_escapes_every_reserved_character(text: str, expected: str) -> None:
    """Each of \\ | { } @ [ ] ( ) < > # * _ ~ gets a backslash; nothing else changes."""
    assert little_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#tea", r"{hashtag|\#|tea}"),
        (
            "Morning #tea and #MatchaLatte!",
            r"Morning {hashtag|\#|tea} and {hashtag|\#|MatchaLatte}!",
        ),
        ("(#tea)", r"\({hashtag|\#|tea}\)"),
        ("#green_tea", r"{hashtag|\#|green_tea}"),
        ("#thé ok", r"{hashtag|\#|thé} ok"),
        ("#2025goals", r"{hashtag|\#|2025goals}"),
        ("line one\n#tea", "line one\n{hashtag|\\#|tea}"),
    ],
)
def test_little_text_keeps_hashtags_as_hashtag_templates(text: str, expected: str) -> None:
    """`#word` becomes LinkedIn's `{hashtag|\\#|word}` template, not an escaped `\\#`."""
    assert little_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We're #1", r"We're \#1"),
        ("C# and F#", r"C\# and F\#"),
        ("https://example.com/page#intro", r"https://example.com/page\#intro"),
        ("https://example.com/#/route", r"https://example.com/\#/route"),
        ("# heading", r"\# heading"),
        ("##", r"\#\#"),
    ],
)
def test_little_text_escapes_a_hash_that_is_not_a_hashtag(text: str, expected: str) -> None:
    """Numbers, `C#`, URL fragments and lone `#` stay plain text."""
    assert little_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Plain words.",
        r"Every one: \ | { } @ [ ] ( ) < > # * _ ~ and a last \\",
        "Launch day (finally!) #launch #Tea_Time @team <3 ~soon~ *bold* [1] {x}|y",
        "ends in a backslash\\",
    ],
)
def test_little_text_renders_back_to_the_original_text(text: str) -> None:
    """LinkedIn (as the fake models it) shows exactly the text: nothing cut, nothing added."""
    assert unescaped_reserved(little_text(text)) == []
    assert render_little_text(little_text(text)) == text


# -- LinkedIn ------------------------------------------------------------------------------


async def test_linkedin_sends_the_post_body_and_headers_once(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """One POST /rest/posts with LinkedIn's headers and exactly the documented body."""
    text = "Tea time (finally) #tea @everyone"
    await li.publish(post(text), MemoryCheckpoints())
    assert len(linkedin.requests) == 1
    (request,) = linkedin.requests
    assert (request.method, request.path) == ("POST", "/rest/posts")
    assert request.headers["Authorization"] == "Bearer li-token"
    assert request.headers["LinkedIn-Version"] == VERSION
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "author": AUTHOR,
        "commentary": "Tea time \\(finally\\) {hashtag|\\#|tea} \\@everyone",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    (created,) = linkedin.posts
    assert created.unescaped_reserved == [] and created.rendered == text


async def test_linkedin_result_comes_from_the_restli_id(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """The `x-restli-id` URN is the external id, and the URL is its feed update page."""
    result = await li.publish(post("Hello LinkedIn"), MemoryCheckpoints())
    (created,) = linkedin.posts
    assert created.urn.startswith("urn:li:share:")
    assert result.external_id == created.urn
    assert result.url == f"https://www.linkedin.com/feed/update/{created.urn}"
    assert result.dry_run is False


async def test_linkedin_bad_token_is_a_credentials_error(
    linkedin: FakeLinkedIn, session: aiohttp.ClientSession
) -> None:
    """401 is permanent, reason credentials, with LinkedIn's own message."""
    publisher = linkedin_publisher(session, linkedin, access_token="wrong")
    error = await publish_error(publisher, post("Hello"))
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.CREDENTIALS
    assert error.detail == "LinkedIn answered 401: Invalid access token"
    assert linkedin.posts == []


async def test_linkedin_server_error_is_transient(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """500 is worth retrying: platform down."""
    linkedin.fail(Fault(status=500))
    error = await publish_error(li, post("Hello"))
    assert isinstance(error, TransientPublishError)
    assert error.reason == FailureReason.PLATFORM_DOWN
    assert error.detail == "LinkedIn answered 500: Internal Server Error"
    assert len(linkedin.requests) == 1


async def test_linkedin_rate_limit_honours_retry_after(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """429 is a transient rate limit carrying LinkedIn's Retry-After."""
    linkedin.fail(Fault(status=429, headers={"Retry-After": "42"}))
    error = await publish_error(li, post("Hello"))
    assert isinstance(error, TransientPublishError)
    assert error.reason == FailureReason.RATE_LIMIT
    assert error.retry_after == 42.0


async def test_linkedin_duplicate_is_permanent_and_says_it_may_be_live(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """The same text twice: 422 DUPLICATE_POST becomes a DUPLICATE failure."""
    await li.publish(post("Same words"), MemoryCheckpoints())
    error = await publish_error(li, post("Same words"))
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.DUPLICATE
    assert error.detail == (
        "LinkedIn refused it as a duplicate: this post may already be live on LinkedIn"
    )
    assert [r.status for r in linkedin.requests] == [201, 422]
    assert len(linkedin.posts) == 1


async def test_linkedin_inactive_version_names_the_setting(
    linkedin: FakeLinkedIn, session: aiohttp.ClientSession
) -> None:
    """426 NONEXISTENT_VERSION is permanent and points at LINKEDIN_VERSION."""
    publisher = linkedin_publisher(session, linkedin, version="202401")
    error = await publish_error(publisher, post("Hello"))
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.REFUSED
    assert "LINKEDIN_VERSION" in error.detail and "202401 is not active" in error.detail


async def test_linkedin_missing_version_names_the_setting(
    linkedin: FakeLinkedIn, session: aiohttp.ClientSession
) -> None:
    """400 VERSION_MISSING is permanent and points at LINKEDIN_VERSION."""
    publisher = linkedin_publisher(session, linkedin, version="")
    error = await publish_error(publisher, post("Hello"))
    assert isinstance(error, PermanentPublishError)
    assert "LINKEDIN_VERSION" in error.detail and error.detail.startswith("LinkedIn answered 400")


async def test_linkedin_schema_error_is_refused_with_linkedins_message(
    linkedin: FakeLinkedIn,
    session: aiohttp.ClientSession,
) -> None:
    """422 schema errors are permanent and carry LinkedIn's `message`."""
    publisher = linkedin_publisher(session, linkedin, author_urn="nobody")
    error = await publish_error(publisher, post("Hello"))
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.REFUSED
    assert error.detail == (
        'LinkedIn answered 422: ERROR :: /author :: "nobody" is not a valid person or '
        "organization urn"
    )


async def test_linkedin_html_error_page_does_not_crash(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """A proxy's HTML 502 is a transient error named by its status."""
    linkedin.fail(Fault(status=502, text="<html><body>Bad gateway</body></html>"))
    error = await publish_error(li, post("Hello"))
    assert isinstance(error, TransientPublishError)
    assert error.detail == "LinkedIn answered 502: Bad Gateway"


async def test_linkedin_created_without_an_id_is_retryable(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """A 201 without `x-restli-id` can't be recorded: a transient error."""
    linkedin.fail(Fault(status=201, text=""))
    error = await publish_error(li, post("Hello"))
    assert isinstance(error, TransientPublishError)
    assert error.detail == "LinkedIn answered 502: an answer without a post id"


async def test_linkedin_dropped_connection_is_a_network_error(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """No answer at all is transient: LinkedIn unreachable."""
    linkedin.fail(Fault(drop=True))
    error = await publish_error(li, post("Hello"))
    assert isinstance(error, TransientPublishError)
    assert error.reason == FailureReason.PLATFORM_DOWN
    assert error.detail.startswith("LinkedIn unreachable")


async def test_linkedin_timeout_is_transient(
    linkedin: FakeLinkedIn, session: aiohttp.ClientSession
) -> None:
    """A LinkedIn slower than the timeout is a transient 'timed out'."""
    publisher = linkedin_publisher(session, linkedin, timeout=0.1)
    linkedin.fail(Fault(status=500, delay=0.5))
    error = await publish_error(publisher, post("Hello"))
    assert isinstance(error, TransientPublishError)
    assert error.detail == "LinkedIn timed out"


# -- Instagram -----------------------------------------------------------------------------


async def test_instagram_publishes_in_three_steps_with_a_permalink(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """Container, status, media_publish, permalink: one of each, ids checkpointed."""
    checkpoints = MemoryCheckpoints()
    result = await ig.publish(ig_post(), checkpoints)
    assert [r.route for r in instagram.requests] == [
        "media",
        "status",
        "media_publish",
        "permalink",
    ]
    create, status, publish, permalink = instagram.requests
    assert create.form == {
        "image_url": IMAGE,
        "caption": "Fresh tea, fresh start #tea",
        "access_token": "ig-token",
    }
    assert status.query == {"fields": "status_code", "access_token": "ig-token"}
    (container,) = instagram.containers
    (media,) = instagram.media
    assert publish.form == {"creation_id": container.id, "access_token": "ig-token"}
    assert permalink.query == {"fields": "permalink", "access_token": "ig-token"}
    assert checkpoints.saves == [("container", container.id), ("media", media.id)]
    assert result.external_id == media.id
    assert result.url == media.permalink and result.url.startswith("https://www.instagram.com/p/")
    assert media.caption == "Fresh tea, fresh start #tea" and media.image_url == IMAGE


async def test_instagram_waits_while_the_container_is_processing(
    session: aiohttp.ClientSession,
) -> None:
    """A container IN_PROGRESS for two polls is polled until FINISHED, then published."""
    async with FakeInstagram(processing_polls=2) as instagram:
        publisher = InstagramPublisher(
            session=session,
            api_url=instagram.api_url,
            access_token=instagram.access_token,
            user_id=instagram.user_id,
            poll_interval=0.01,
        )
        result = await publisher.publish(ig_post(), MemoryCheckpoints())
    routes = [r.route for r in instagram.requests]
    assert routes == ["media", "status", "status", "status", "media_publish", "permalink"]
    (media,) = instagram.media
    assert result.external_id == media.id


async def test_instagram_still_processing_at_the_deadline_is_transient(
    session: aiohttp.ClientSession,
) -> None:
    """A container never FINISHED within poll_timeout: transient, nothing published."""
    async with FakeInstagram(processing_polls=10_000) as instagram:
        publisher = InstagramPublisher(
            session=session,
            api_url=instagram.api_url,
            access_token=instagram.access_token,
            user_id=instagram.user_id,
            poll_interval=0.01,
            poll_timeout=0.1,
        )
        checkpoints = MemoryCheckpoints()
        with pytest.raises(TransientPublishError) as caught:
            await publisher.publish(ig_post(), checkpoints)
    assert "still processing" in caught.value.detail
    assert instagram.media == [] and "media_publish" not in [r.route for r in instagram.requests]
    assert list(checkpoints.done) == ["container"]


async def test_instagram_without_an_image_is_refused_without_a_request(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """No image URL: refused at once, the API never called."""
    error = await publish_error(ig, ig_post(image=None))
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.REFUSED
    assert error.detail == "Instagram posts need an image URL"
    assert instagram.all_requests == []


async def test_instagram_retry_after_a_failed_publish_reuses_the_container(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """media_publish fails once; the retry reuses the saved container: one container, one media."""
    instagram.fail(Fault(status=500), step="media_publish")
    checkpoints = MemoryCheckpoints()
    with pytest.raises(TransientPublishError):
        await ig.publish(ig_post(), checkpoints)
    (container,) = instagram.containers
    assert checkpoints.done == {"container": container.id} and instagram.media == []
    first_run = len(instagram.requests)

    result = await ig.publish(ig_post(), checkpoints)
    assert [r.route for r in instagram.requests[first_run:]] == [
        "status",
        "media_publish",
        "permalink",
    ]
    assert len(instagram.containers) == 1
    (media,) = instagram.media
    assert media.container_id == container.id
    assert result.external_id == media.id and checkpoints.done["media"] == media.id


async def test_instagram_container_published_by_a_lost_run_is_found_not_republished(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """Saved container already PUBLISHED, media unknown: found by caption, no second media."""
    await ig.publish(ig_post("An older post"), MemoryCheckpoints())
    earlier = MemoryCheckpoints()
    await ig.publish(ig_post(), earlier)
    await ig.publish(ig_post("A newer post"), MemoryCheckpoints())
    (media,) = [m for m in instagram.media if m.caption == ig_post().message]
    lost = MemoryCheckpoints(container=earlier.done["container"])
    before = len(instagram.requests)

    result = await ig.publish(ig_post(), lost)
    routes = [r.route for r in instagram.requests[before:]]
    assert routes == ["status", "list_media"]
    assert len(instagram.media) == 3 and len(instagram.containers) == 3
    assert result.external_id == media.id and result.url == media.permalink
    assert lost.saves == [("media", media.id)]


async def test_instagram_permalink_failure_still_returns_the_media(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """The post is live once media_publish answers: a failed permalink read means url=None."""
    instagram.fail(Fault(status=500), step="permalink")
    checkpoints = MemoryCheckpoints()
    result = await ig.publish(ig_post(), checkpoints)
    (media,) = instagram.media
    assert result.external_id == media.id and result.url is None
    assert checkpoints.done["media"] == media.id


async def test_instagram_saved_media_is_never_published_again(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """With the media step saved, a retry only reads the permalink."""
    first = MemoryCheckpoints()
    await ig.publish(ig_post(), first)
    before = len(instagram.requests)
    result = await ig.publish(ig_post(), MemoryCheckpoints(**first.done))
    assert [r.route for r in instagram.requests[before:]] == ["permalink"]
    assert len(instagram.media) == 1 and result.external_id == instagram.media[0].id


async def test_instagram_bad_token_is_a_credentials_error_without_the_token(
    instagram: FakeInstagram,
    session: aiohttp.ClientSession,
) -> None:
    """OAuthException 190 is permanent, reason credentials; the token appears nowhere."""
    token = "EAAG-secret-token-value"
    publisher = InstagramPublisher(
        session=session, api_url=instagram.api_url, access_token=token, user_id=instagram.user_id
    )
    error = await publish_error(publisher, ig_post())
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.CREDENTIALS
    assert "Invalid OAuth access token" in error.detail
    assert token not in str(error) and instagram.containers == []


async def test_instagram_token_is_scrubbed_from_metas_messages(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """A Graph error that echoes the token does not carry it into our error."""
    instagram.fail(
        Fault(status=400, json=graph_error(f"Bad request for token {instagram.access_token}", 100)),
        step="media",
    )
    error = await publish_error(ig, ig_post())
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.REFUSED
    assert instagram.access_token not in str(error)
    assert error.__cause__ is None


async def test_instagram_network_error_does_not_chain_the_url(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """A dropped request is transient, with no aiohttp error (and its URL) attached."""
    instagram.fail(Fault(drop=True), step="media")
    error = await publish_error(ig, ig_post())
    assert isinstance(error, TransientPublishError)
    assert error.detail.startswith("Instagram unreachable")
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize("code", [4, 17, 32, 613])
async def test_instagram_rate_limit_codes_are_transient(
    instagram: FakeInstagram, ig: InstagramPublisher, code: int
) -> None:
    """Graph rate-limit codes arrive as 400s but are transient rate limits."""
    instagram.fail(Fault(status=400, json=graph_error("Application request limit reached", code)))
    error = await publish_error(ig, ig_post())
    assert isinstance(error, TransientPublishError)
    assert error.reason == FailureReason.RATE_LIMIT


async def test_instagram_429_honours_retry_after(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """HTTP 429 is a rate limit carrying Retry-After."""
    instagram.fail(Fault(status=429, headers={"Retry-After": "7"}), step="media")
    error = await publish_error(ig, ig_post())
    assert isinstance(error, TransientPublishError)
    assert error.reason == FailureReason.RATE_LIMIT and error.retry_after == 7.0


async def test_instagram_server_and_transient_errors_are_transient(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """5xx, and a 400 Meta marks `is_transient`, are both worth retrying."""
    instagram.fail(Fault(status=503), step="media")
    error = await publish_error(ig, ig_post())
    assert isinstance(error, TransientPublishError) and error.reason == FailureReason.PLATFORM_DOWN
    instagram.fail(
        Fault(status=400, json=graph_error("Please retry", 2, transient=True)), step="media"
    )
    error = await publish_error(ig, ig_post())
    assert isinstance(error, TransientPublishError) and error.reason == FailureReason.PLATFORM_DOWN


async def test_instagram_other_graph_errors_are_refused_with_metas_message(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """An image Meta can't fetch is a permanent refusal quoting Meta."""
    error = await publish_error(ig, ig_post(image="ftp://images.example.com/tea.jpg"))
    assert isinstance(error, PermanentPublishError)
    assert error.reason == FailureReason.REFUSED
    assert "Only photo or video can be accepted as media type." in error.detail
    assert error.detail.startswith("Instagram answered 400:")
    assert error.detail.endswith("[code 9004, subcode 2207052]")


async def test_instagram_errored_container_is_refused_then_replaced_on_retry(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """A container in ERROR is a permanent failure; the next retry makes a new container."""
    # Twice: the first run's poll, then the retry's check of the saved container.
    instagram.fail(Fault(status=200, json={"status_code": "ERROR"}), times=2, step="status")
    checkpoints = MemoryCheckpoints()
    with pytest.raises(PermanentPublishError) as caught:
        await ig.publish(ig_post(), checkpoints)
    assert caught.value.reason == FailureReason.REFUSED and "ERROR" in caught.value.detail
    (dead,) = instagram.containers
    assert checkpoints.done == {"container": dead.id}

    result = await ig.publish(ig_post(), checkpoints)
    assert len(instagram.containers) == 2
    (media,) = instagram.media
    assert media.container_id == instagram.containers[1].id != dead.id
    assert checkpoints.done == {"container": instagram.containers[1].id, "media": media.id}
    assert result.external_id == media.id


async def test_instagram_expired_saved_container_is_replaced(
    instagram: FakeInstagram, ig: InstagramPublisher
) -> None:
    """A saved container that EXPIRED is forgotten: a new one is made and published."""
    instagram.fail(
        Fault(status=400, json=graph_error("limit", 9, subcode=2207042)), step="media_publish"
    )
    checkpoints = MemoryCheckpoints()
    with pytest.raises(PermanentPublishError):
        await ig.publish(ig_post(), checkpoints)
    old = checkpoints.done["container"]
    instagram.fail(Fault(status=200, json={"id": old, "status_code": "EXPIRED"}), step="status")

    result = await ig.publish(ig_post(), checkpoints)
    assert len(instagram.containers) == 2
    (media,) = instagram.media
    assert media.container_id == checkpoints.done["container"] != old
    assert result.external_id == media.id


async def test_linkedin_urn_is_saved_and_a_retry_does_not_post_again(
    linkedin: FakeLinkedIn, li: LinkedInPublisher
) -> None:
    """The URN is checkpointed as soon as LinkedIn answers; a second run with the same
    checkpoints returns it without another request."""
    checkpoints = MemoryCheckpoints()
    first = await li.publish(post("Hello LinkedIn"), checkpoints)
    again = await li.publish(post("Hello LinkedIn"), checkpoints)
    assert checkpoints.saves == [("post", first.external_id)]
    assert again == first
    assert len(linkedin.requests) == 1


async def test_x_signs_its_own_requests_and_nobody_elses_on_the_shared_session(
    linkedin: FakeLinkedIn, session: aiohttp.ClientSession
) -> None:
    """On one session, X's requests are rebased to X_API_URL and OAuth-signed (the fake X
    checks the signature), while LinkedIn's, before and after, carry only LinkedIn's headers."""
    async with FakeX() as fake_x:
        x = XPublisher(
            session=session,
            api_url=fake_x.url,
            consumer_key=fake_x.consumer_key,
            consumer_secret=fake_x.consumer_secret,
            access_token=fake_x.access_token,
            access_token_secret=fake_x.access_token_secret,
        )
        li = linkedin_publisher(session, linkedin)
        await li.publish(post("Before X"), MemoryCheckpoints())
        result = await x.publish(post("Hello X", platform="x"), MemoryCheckpoints())
        await li.publish(post("After X"), MemoryCheckpoints())
    (tweet,) = fake_x.tweets
    assert (tweet.text, result.external_id) == ("Hello X", tweet.id)
    (x_request,) = fake_x.requests
    assert x_request.headers["Authorization"].startswith("OAuth ")
    assert "LinkedIn-Version" not in x_request.headers
    for request in linkedin.requests:
        assert request.headers["Authorization"] == f"Bearer {linkedin.access_token}"
        assert request.headers["LinkedIn-Version"] == VERSION
    assert [p.commentary for p in linkedin.posts] == ["Before X", "After X"]
    assert not session.closed
