"""Nothing lost, nothing twice: retries, dead letters, crashes, provider health, reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

from services.models import JobStatus, PostStatus
from tests.support.emulators.base import Fault, wait_until
from tests.support.harness import APPROVER, DEFAULT_DRAFT, REQUESTER, BotProcess, World


async def test_x_503_twice_then_ok_posts_one_tweet(world: World) -> None:
    """X answers 503 twice, then takes the post: exactly one tweet, the card shows it."""
    world.x.fail(Fault(status=503), times=2)
    bot = await world.start_bot()
    await bot.submit()
    await bot.click(await bot.draft_card(), "approve")
    await world.x.wait_for_tweets(1)
    await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    await bot.settle()
    assert len(world.x.requests) == 3
    assert len(world.x.tweets) == 1


async def test_x_down_for_every_attempt_dead_letters_then_retry_posts_once(
    world: World,
) -> None:
    """X is down for all attempts: the job goes to dlq_publish, the card says "platform down"
    with Retry and Discard; Retry after X recovers posts exactly one tweet."""
    world.x.fail_always(Fault(status=503))
    bot = await world.start_bot()
    await bot.submit()
    await bot.click(await bot.draft_card(), "approve")
    failed = await bot.wait_card(lambda c: "Failed to post to X" in c.all_text())
    assert "platform down" in failed.all_text()
    assert set(failed.buttons()) == {"socialpost_retry", "socialpost_discard"}
    await bot.settle()
    dead = await bot.runtime.store.jobs.with_status(JobStatus.DEAD)
    assert [(job.kind, job.queue, job.attempts) for job in dead] == [("publish", "dlq_publish", 3)]
    post = (await bot.runtime.store.posts.with_status([PostStatus.FAILED_POST]))[0]
    assert post.failure_reason is not None and "503" in post.failure_reason

    world.x.recover()
    await bot.click(failed, "retry", APPROVER)
    await world.x.wait_for_tweets(1)
    await bot.wait_card(lambda c: "Posted to X by" in c.all_text())
    await bot.settle()
    assert len(world.x.tweets) == 1


async def test_discard_a_failed_post(world: World) -> None:
    """Discard on a failed post rejects it for good."""
    world.x.fail_always(Fault(status=401, json={"title": "Unauthorized", "status": 401}))
    bot = await world.start_bot()
    await bot.submit()
    await bot.click(await bot.draft_card(), "approve")
    failed = await bot.wait_card(lambda c: "Failed to post to X" in c.all_text())
    assert "expired or wrong credentials" in failed.all_text()
    assert len(world.x.requests) == 1, "credentials failures are not retried"
    await bot.click(failed, "discard", APPROVER)
    await bot.wait_card(lambda c: f"Rejected by <@{APPROVER}>" in c.all_text())


async def test_rate_limited_x_waits_for_the_reset(world: World) -> None:
    """X's 429 carries a reset time: the retry waits until then, then posts once."""
    world.x.rate_limited(times=1, reset_in=1)
    bot = await world.start_bot()
    await bot.submit()
    await bot.click(await bot.draft_card(), "approve")
    await world.x.wait_for_tweets(1, timeout=10)
    first, second = world.x.requests
    assert second.at - first.at >= 0.9
    assert len(world.x.tweets) == 1


async def test_duplicate_content_is_not_retried_and_says_it_may_be_live(world: World) -> None:
    """X's duplicate-content 403: one request only, and the card says the post may already
    be live."""
    bot = await world.start_bot()
    await bot.submit("First")
    await bot.click(await bot.draft_card(), "approve")
    await world.x.wait_for_tweets(1)
    await bot.submit("Second, same words")
    second = await bot.wait_card(
        lambda c: "Second, same words" in c.all_text() and "socialpost_approve" in c.buttons()
    )
    await bot.click(second, "approve")
    failed = await bot.wait_card(lambda c: "Failed to post to X" in c.all_text())
    assert "duplicate content" in failed.all_text()
    assert "may already be live" in failed.all_text()
    await bot.settle()
    assert len(world.x.requests) == 2
    assert len(world.x.tweets) == 1


async def test_card_is_delivered_after_slack_fails_twice(world: World) -> None:
    """chat.postMessage fails twice (a 500, then a dropped connection): the card still
    arrives, once."""
    world.slack.fail_method("chat.postMessage", Fault(status=500), times=1)
    world.slack.fail_method("chat.postMessage", Fault(drop=True), times=1)
    bot = await world.start_bot()
    await bot.submit()
    await bot.draft_card()
    await bot.settle()
    assert len(bot.cards()) == 1
    attempts = world.slack.calls_to("chat.postMessage")
    assert [call.http_status for call in attempts] == [500, 0, 200]


async def test_slack_rate_limit_is_honoured(world: World) -> None:
    """chat.postMessage answers ratelimited with Retry-After: 1: the next try waits for it."""
    world.slack.fail_method_with_error("chat.postMessage", "ratelimited", retry_after=1)
    bot = await world.start_bot()
    await bot.submit()
    await bot.draft_card()
    limited, delivered = world.slack.calls_to("chat.postMessage")[:2]
    assert limited.http_status == 429
    assert delivered.at - limited.at >= 1.0


async def test_undeliverable_card_is_dead_lettered_and_the_requester_told(world: World) -> None:
    """The bot isn't in the approval channel: the card job goes to dlq_slack at once, the post
    is failed_approval_send, and the requester gets a DM saying so."""
    world.slack.fail_method_with_error("chat.postMessage", "not_in_channel", times=2)
    bot = await world.start_bot()
    await bot.submit()
    dms = await wait_until(lambda: bot.dms_to(REQUESTER), timeout=10)
    assert "isn't a member of the channel" in dms[0].text
    await bot.settle()
    post = (await bot.runtime.store.posts.with_status([PostStatus.FAILED_APPROVAL_SEND]))[0]
    assert post.message == DEFAULT_DRAFT
    dead = await bot.runtime.store.jobs.with_status(JobStatus.DEAD)
    assert {job.queue for job in dead} == {"dlq_slack"}


async def test_dead_primary_llm_does_not_slow_later_drafts(world: World) -> None:
    """The primary LLM hangs: after two timed-out requests it is skipped, so later drafts go
    straight to the fallback without waiting."""
    world.openai.fail_always(Fault(delay=30))
    bot = await world.start_bot(SOCIALPOST_LLM_TIMEOUT="0.5")
    timings = []
    for n in range(4):
        started = time.monotonic()
        await bot.submit(f"Brief number {n}")
        await bot.wait_card(
            lambda c, n=n: (
                f"Brief number {n}" in c.all_text() and "socialpost_approve" in c.buttons()
            ),
            what=f"draft {n}",
        )
        timings.append(time.monotonic() - started)
    assert len(world.openai.requests) == 2, "the open circuit sends the primary nothing"
    assert len(world.anthropic.requests) == 4


async def test_socket_mode_reconnects_after_disconnect_and_silent_drop(world: World) -> None:
    """After Slack's disconnect message, and after a silent connection drop, the bot
    reconnects and keeps answering."""
    bot = await world.start_bot()
    opens = world.slack.connection_opens
    await world.slack.send_disconnect()
    await wait_until(lambda: world.slack.connection_opens > opens)
    await world.slack.wait_connected()
    await bot.open_modal()
    opens = world.slack.connection_opens
    await world.slack.drop_connections()
    await wait_until(lambda: world.slack.connection_opens > opens, timeout=10)
    await world.slack.wait_connected()
    await bot.submit()
    await bot.draft_card()


async def test_restart_with_a_pending_card_then_approve(world: World) -> None:
    """The bot restarts while a card waits for approval; approving it afterwards works."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    await bot.stop()
    bot = await world.start_bot()
    await bot.click(card, "approve")
    await world.x.wait_for_tweets(1)
    await bot.wait_card(lambda c: "Posted to X by" in c.all_text())


async def spawn_with_publish_in_flight(world: World) -> BotProcess:
    """A bot process with an approved post whose publish request X is holding unanswered."""
    process = await world.spawn_bot()
    await process.submit()
    card = await process.draft_card(timeout=20)
    world.x.hold(1)
    await process.click(card, "approve")
    await world.x.wait_for_held(1, timeout=10)
    return process


async def test_sigkill_while_publish_in_flight_then_restart_posts_once(world: World) -> None:
    """The bot process is killed (SIGKILL) while X is handling its publish request; after a
    restart the job runs again and there is still exactly one tweet."""
    process = await spawn_with_publish_in_flight(world)
    await process.kill()
    world.x.release()
    assert len(world.x.tweets) == 1

    restarted = await world.spawn_bot()
    await restarted.wait_card(
        lambda c: "may already be live" in c.all_text() or "Posted to X" in c.all_text(),
        timeout=20,
    )
    await asyncio.sleep(0.5)
    assert len(world.x.tweets) == 1
    assert "jobs_recovered" in restarted.log()


async def test_sigkill_with_a_publish_waiting_to_retry_then_restart_posts_once(
    world: World,
) -> None:
    """Killed while a publish waits for its next retry (X down): after a restart with X back,
    the queued job runs and posts exactly one tweet."""
    world.x.fail_always(Fault(status=503))
    process = await world.spawn_bot(
        SOCIALPOST_RETRY_MAX_ATTEMPTS="10",
        SOCIALPOST_RETRY_BASE_DELAY="1",
        SOCIALPOST_RETRY_MAX_DELAY="5",
    )
    await process.submit()
    await process.click(await process.draft_card(timeout=20), "approve")
    await world.x.wait_for_requests(1, timeout=10)
    await process.kill()
    world.x.recover()
    restarted = await world.spawn_bot()
    await world.x.wait_for_tweets(1, timeout=20)
    await restarted.wait_card(lambda c: "Posted to X by" in c.all_text(), timeout=20)
    assert len(world.x.tweets) == 1


async def test_sigkill_mid_draft_then_restart_finishes_the_draft(world: World) -> None:
    """Killed (SIGKILL) while the LLM holds its draft request: after a restart the draft job
    runs again and the card shows the finished draft (not a failure); the LLM is asked once
    more, no more."""
    world.openai.fail(Fault(delay=120), times=1)
    process = await world.spawn_bot()
    await process.submit()
    await world.openai.wait_for_requests(1, timeout=20)
    await process.kill()

    restarted = await world.spawn_bot()
    card = await restarted.draft_card(timeout=30)
    assert DEFAULT_DRAFT in card.all_text()
    await asyncio.sleep(0.5)
    assert len(world.openai.requests) + len(world.anthropic.requests) == 2
    assert [c for c in restarted.cards() if "socialpost_approve" in c.buttons()] == [card]
    assert "jobs_recovered" in restarted.log()
    assert not restarted.dms_to(REQUESTER), "the requester was told of no failure"


async def test_graceful_stop_lets_an_in_flight_publish_finish(world: World) -> None:
    """SIGTERM while X is answering a publish: the bot waits for the answer, stores the
    post as posted, and after a restart nothing is sent again."""
    bot = await world.start_bot()
    await bot.submit()
    card = await bot.draft_card()
    world.x.hold(1)
    await bot.click(card, "approve")
    await world.x.wait_for_held(1)
    stopping = asyncio.create_task(bot.stop())
    await asyncio.sleep(0.3)
    world.x.release()
    await stopping
    restarted = await world.start_bot()
    await restarted.wait_card(lambda c: "Posted to X by" in c.all_text())
    await restarted.settle()
    assert len(world.x.requests) == 1
    assert len(world.x.tweets) == 1


async def test_a_second_process_on_the_same_database_refuses_to_start(world: World) -> None:
    """While a bot runs with a publish in flight, a second `python -m bot` on the same SQLite
    file exits 1 with one line naming the file and pointing to PostgreSQL (no traceback), and
    the in-flight publish is not run again: X gets exactly one request."""
    first = await spawn_with_publish_in_flight(world)

    second = await world.spawn_bot(connect=False)
    assert await second.wait_exit() == 1
    output = second.log()
    assert output.strip().splitlines()[-1] == (
        "socialpost can't start: another socialpost process is using the SQLite database"
        f" {world.db_path.resolve()}. A SQLite file belongs to one process; to run several"
        " processes, share a PostgreSQL database (SOCIALPOST_DATABASE_URL)."
    )
    assert "Traceback" not in output

    world.x.release()
    await first.wait_card(lambda c: "Posted to X by" in c.all_text(), timeout=20)
    assert len(world.x.requests) == 1
    assert len(world.x.tweets) == 1


def refuse_pending_posts(database: Path) -> None:
    """Make the database refuse every write that moves a post to pending."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute(
            "CREATE TRIGGER refuse_pending BEFORE UPDATE OF status ON posts"
            " WHEN NEW.status = 'pending' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )


async def test_a_draft_that_cannot_be_stored_ends_failed_not_generating(world: World) -> None:
    """The LLM answers but storing the draft fails (the database refuses the write): the post
    ends failed_generation at once, the card says so and the requester is told."""
    bot = await world.start_bot()
    # A plain connection to the file (only a second store is refused; the store offers no raw
    # SQL), on a thread: the bot's own transactions must go on meanwhile.
    await asyncio.to_thread(refuse_pending_posts, world.db_path)
    await bot.submit()
    await bot.wait_card(lambda c: "Unable to generate content" in c.all_text())
    await wait_until(lambda: bot.dms_to(REQUESTER))
    await bot.settle()
    counts = await bot.runtime.store.posts.count_by_status()
    assert counts == {PostStatus.FAILED_GENERATION: 1}
