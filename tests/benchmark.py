"""The benchmark: user-facing speed, exactly-once publishing and memory, in one run.

    make bench            # or: .venv/bin/python -m tests.benchmark [--update-doc]
    .venv/bin/python -m tests.benchmark --only text-measurement [--update-doc]
    .venv/bin/python -m tests.benchmark --only api

It starts the Slack emulator, the fake LLMs and the fake X on 127.0.0.1, runs the real bot as
a subprocess (`python -m bot`, like production) and a bare Bolt app
(`tests/support/bare_bolt_app.py`) as the baseline, and measures everything from outside, as
Slack would see it. Results are
printed as Markdown and saved to `bench-results/latest.{md,json}`; `--update-doc` also writes
them into BENCHMARKS.md. These are measurements, not pass/fail tests.

The text-measurement section runs in this process: X's bounded count and the thread splitter on
the costliest texts found (by hand and by a hypothesis search), against twitter-text's own
`parse_tweet` on the same texts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.emulators.slack import SlackEmulator
from tests.support.harness import APPROVER, REPO, REQUESTER, World, draft_from_brief
from tests.support.postgres import PostgresServer, find_binaries

RESULTS = REPO / "bench-results"
DOC = REPO / "BENCHMARKS.md"
MARKER = "<!-- figures: written by tests/benchmark.py -->"
TEXT_START = "<!-- text-measurement figures: written by tests/benchmark.py -->"
TEXT_END = "<!-- end of text-measurement figures -->"

ACK_COMMANDS = 200
ACK_BURST = 20
SUBMISSIONS = 100
APPROVALS = 100
EXACTLY_ONCE_POSTS = 100
EXACTLY_ONCE_CLICKS = 50
DRAFTS_FOR_MEMORY = 1000
MULTI_PROCESSES = 3
BACKEND_ACK_COMMANDS = 100
BACKEND_APPROVALS = 30
THROUGHPUT_POSTS = 60
PLATFORM_LATENCY = 0.05


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> str:
    """Seconds as milliseconds for the report."""
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Process:
    """A Python module run as a subprocess, its memory read from /proc."""

    module: str
    env: dict[str, str]
    log: Path
    started_at: float = 0.0
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Spawn it."""
        with self.log.open("wb") as out:
            self.started_at = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, cwd=REPO, env=self.env, stdout=out, stderr=out
            )

    def memory(self) -> dict[str, float]:
        """Current (VmRSS) and peak (VmHWM) resident memory, in MiB."""
        assert self.proc is not None
        fields: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
        return fields

    async def stop(self) -> None:
        """SIGTERM, then wait."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@dataclass
class Report:
    """Every figure of one run."""

    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, **values: Any) -> None:
        """Record one measurement and print it."""
        self.figures[name] = values
        print(f"{name}: {values}", flush=True)


def environment(world: World, slack: SlackEmulator | None = None) -> dict[str, str]:
    """The bot's (or the baseline's) environment for the benchmark."""
    env = world.process_environment(
        SOCIALPOST_RATE_LIMIT="1000000/1",
        SOCIALPOST_WORKSPACE_RATE_LIMIT="1000000/1",
        SOCIALPOST_SOCKET_PING_INTERVAL="10",
        SOCIALPOST_RETRY_BASE_DELAY="0.2",
        SOCIALPOST_RETRY_MAX_DELAY="2",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
    )
    if slack is not None:
        env["SLACK_API_URL"] = slack.api_url
    return env


async def first_ack(slack: SlackEmulator, process: Process) -> float:
    """Seconds from spawning `process` to the first acked `/socialpost`."""
    opens = slack.connection_opens
    while slack.connection_opens == opens:
        assert process.proc is not None and process.proc.returncode is None, process.log
        await asyncio.sleep(0.005)
    await slack.wait_connected()
    ack = await slack.slash_command(REQUESTER, "warm-up")
    assert ack.received
    return time.monotonic() - process.started_at


async def ack_latencies(bot: SlackEmulator, bare: SlackEmulator) -> tuple[list[float], ...]:
    """200 commands to each app, in alternating bursts of 20: the ack latencies."""
    bot_times: list[float] = []
    bare_times: list[float] = []
    for _ in range(ACK_COMMANDS // ACK_BURST):
        print(
            "  burst p50 so far (bot, bare):",
            [round(t * 1000) for t in bot_times[-ACK_BURST:]][::5],
            [round(t * 1000) for t in bare_times[-ACK_BURST:]][::5],
            flush=True,
        )
        for slack, into in ((bot, bot_times), (bare, bare_times)):
            acks = await asyncio.gather(
                *(slack.slash_command(REQUESTER, "") for _ in range(ACK_BURST))
            )
            into += [ack.latency for ack in acks if ack.latency is not None]
            await asyncio.sleep(0.2)
    return bot_times, bare_times


async def submit(world: World, brief: str) -> tuple[float, str]:
    """Open the modal and submit `brief` for X; returns when it was submitted and the view."""
    slack = world.slack
    ack = await slack.slash_command(REQUESTER, "")
    trigger = ack.envelope["payload"]["trigger_id"]
    opened = await slack.wait_for_call(
        "views.open", lambda call: call.args.get("trigger_id") == trigger, timeout=10
    )
    view = opened.response["view"]
    values = {
        "brief": {"brief": {"type": "plain_text_input", "value": brief}},
        "platform": {"platform": {"type": "checkboxes", "selected_options": [{"value": "x"}]}},
    }
    submitted = time.monotonic()
    await slack.submit_view(view, REQUESTER, values, wait_ack=False)
    return submitted, str(view["id"])


def _has(call: Any, text: str, *, draft: bool) -> bool:
    blocks = json.dumps(call.args.get("blocks"))
    return text in blocks and (not draft or "socialpost_approve" in blocks)


async def submit_to_cards(world: World) -> tuple[list[float], list[float]]:
    """Submit briefs one after another: submit -> placeholder card, submit -> draft card."""
    placeholder: list[float] = []
    drafted: list[float] = []
    for n in range(SUBMISSIONS):
        brief = f"Latency brief {n}"
        after = len(world.slack.calls)
        submitted, _ = await submit(world, brief)
        card = await world.slack.wait_for_call(
            "chat.postMessage", lambda c, b=brief: _has(c, b, draft=False), after=after
        )
        placeholder.append(card.at - submitted)
        update = await world.slack.wait_for_call(
            "chat.update", lambda c, b=brief: _has(c, b, draft=True), after=after
        )
        drafted.append(update.at - submitted)
    return placeholder, drafted


async def pending_cards(world: World, prefix: str, count: int) -> list[Any]:
    """Submit `count` briefs at once and return their draft cards."""
    for start in range(0, count, 20):
        batch = range(start, min(start + 20, count))
        await asyncio.gather(*(submit(world, f"{prefix} {n}") for n in batch))

    def ready() -> list[Any] | None:
        cards = [
            message
            for message in world.slack.channel_messages("C0APPROVALS")
            if prefix in message.all_text() and "socialpost_approve" in message.buttons()
        ]
        return cards if len(cards) >= count else None

    return await _wait(ready, 120, f"{count} draft cards")


async def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while (value := check()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.01)
    return value


async def approve_to_publish(world: World, count: int = APPROVALS) -> list[float]:
    """Click Approve on cards one after another: click -> the publish request reaching X."""
    cards = await pending_cards(world, "Approve latency", count)
    quiet_measurer()
    latencies = []
    for card in cards:
        draft = next(b["text"]["text"] for b in card.blocks if b.get("block_id") == "draft")
        seen = len(world.x.requests)
        clicked = time.monotonic()
        await world.slack.click_button(APPROVER, "socialpost_approve", message=card, wait_ack=False)

        def arrived(seen: int = seen, draft: str = draft) -> Any:
            return next(
                (r for r in world.x.requests[seen:] if (r.json or {}).get("text") == draft), None
            )

        request = await _wait(arrived, 10, "publish request")
        latencies.append(request.at - clicked)
    return latencies


async def exactly_once(world: World) -> dict[str, int]:
    """100 posts, each hit by 50 concurrent approve clicks: how many tweets."""
    cards = await pending_cards(world, "Exactly once", EXACTLY_ONCE_POSTS)
    tweets_before = len(world.x.tweets)
    for start in range(0, len(cards), 10):
        await asyncio.gather(
            *(
                world.slack.click_button(
                    APPROVER if i % 2 else "U0BOSS", "socialpost_approve", message=card
                )
                for card in cards[start : start + 10]
                for i in range(EXACTLY_ONCE_CLICKS)
            )
        )
    await asyncio.sleep(0.5)
    await _wait(
        lambda: True if len(world.x.tweets) - tweets_before >= EXACTLY_ONCE_POSTS else None,
        60,
        "tweets",
    )
    await asyncio.sleep(2)
    return {
        "posts": len(cards),
        "clicks": len(cards) * EXACTLY_ONCE_CLICKS,
        "tweets": len(world.x.tweets) - tweets_before,
    }


async def many_drafts(world: World) -> None:
    """1,000 drafts, 50 submissions at a time, until every card shows its draft."""
    for start in range(0, DRAFTS_FOR_MEMORY, 50):
        await asyncio.gather(*(submit(world, f"Memory {n}") for n in range(start, start + 50)))
    await _wait(
        lambda: (
            True
            if sum(
                1
                for m in world.slack.channel_messages("C0APPROVALS")
                if "Memory" in m.all_text() and "socialpost_approve" in m.buttons()
            )
            >= DRAFTS_FOR_MEMORY
            else None
        ),
        600,
        "1,000 draft cards",
    )


def summary(values: list[float]) -> dict[str, Any]:
    """p50 and p99 of latencies."""
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def bot_modal() -> dict[str, Any]:
    """The modal the bot opens, for the baseline to open too."""
    from handlers.blocks.modal import new_post_modal

    return new_post_modal(platforms=["x", "linkedin", "instagram"], origin_channel="C0GENERAL")


def quiet_measurer() -> None:
    """Keep this process's own garbage collections out of the figures.

    The emulators record every call, so the measuring process's heap grows through the run,
    and a full collection of it can stall for hundreds of milliseconds, which would be
    counted against the bot. Everything recorded so far is moved out of the collector's way.
    """
    gc.collect()
    gc.freeze()


async def run(report: Report) -> None:
    """Everything, in one run."""
    RESULTS.mkdir(exist_ok=True)
    async with World() as world:
        world.openai.reply_with(draft_from_brief)
        bare_slack = await SlackEmulator().start()
        bot = Process("bot", environment(world), RESULTS / "bot.log")
        modal_file = RESULTS / "bot-modal.json"
        modal_file.write_text(json.dumps(bot_modal()), encoding="utf-8")
        bare_env = {**environment(world, bare_slack), "BARE_MODAL_JSON": str(modal_file)}
        bare = Process("tests.support.bare_bolt_app", bare_env, RESULTS / "bare.log")
        try:
            await bot.start()
            bot_start = await first_ack(world.slack, bot)
            await bare.start()
            bare_start = await first_ack(bare_slack, bare)
            report.add(
                "startup_to_first_ack",
                bot_s=round(bot_start, 2),
                bare_bolt_s=round(bare_start, 2),
            )
            await asyncio.sleep(2)
            idle = bot.memory()
            report.add("memory_idle_mib", rss=round(idle["VmRSS"], 1), peak=round(idle["VmHWM"], 1))
            # Memory first: the click storm below raises the allocator's high-water mark,
            # which says nothing about what drafts keep.
            started = time.monotonic()
            await many_drafts(world)
            await asyncio.sleep(2)
            after = bot.memory()
            report.add(
                "memory_after_1000_drafts_mib",
                rss=round(after["VmRSS"], 1),
                peak=round(after["VmHWM"], 1),
                growth_vs_idle_pct=round((after["VmRSS"] / idle["VmRSS"] - 1) * 100, 1),
                seconds=round(time.monotonic() - started, 1),
            )

            quiet_measurer()
            bot_acks, bare_acks = await ack_latencies(world.slack, bare_slack)
            ours, base = summary(bot_acks), summary(bare_acks)
            report.add(
                "ack_latency",
                bot=ours,
                bare_bolt=base,
                p50_ratio=round(ours["p50_ms"] / base["p50_ms"], 2),
                p99_ratio=round(ours["p99_ms"] / base["p99_ms"], 2),
            )
            quiet_measurer()
            placeholder, drafted = await submit_to_cards(world)
            report.add("submit_to_placeholder_card", **summary(placeholder))
            report.add("submit_to_draft_card", **summary(drafted))
            report.add("approve_to_publish_request", **summary(await approve_to_publish(world)))
            report.add("exactly_once", **await exactly_once(world))

            final = bot.memory()
            report.add(
                "memory_end_of_run_mib",
                rss=round(final["VmRSS"], 1),
                peak=round(final["VmHWM"], 1),
            )
        finally:
            await bot.stop()
            await bare.stop()
            await bare_slack.stop()


# --- several processes on PostgreSQL ---------------------------------------------------------


async def spawn_bots(world: World, count: int, name: str, **env: str) -> list[Process]:
    """`count` bot processes on the world's database, connected and warmed up (a first
    request pays for lazy imports)."""
    before = len(world.slack.connection_ids)
    bots = [
        Process("bot", {**environment(world), **env}, RESULTS / f"{name}-{n}.log")
        for n in range(count)
    ]
    for bot in bots:
        await bot.start()

    def connected() -> bool | None:
        for bot in bots:
            assert bot.proc is not None and bot.proc.returncode is None, bot.log
        return True if len(world.slack.connection_ids) >= before + count else None

    await _wait(connected, 180, f"{count} bots to connect")
    for connection_id in world.slack.connection_ids[before:]:
        ack = await world.slack.slash_command(
            REQUESTER, "help", connection_id=connection_id, timeout=60
        )
        assert ack.received
    return bots


async def stop_all(bots: list[Process]) -> None:
    """SIGTERM every bot, then wait."""
    await asyncio.gather(*(bot.stop() for bot in bots))


async def backend_latency(database_url: str | None) -> dict[str, Any]:
    """One bot on SQLite (None) or on the PostgreSQL database at `database_url`: ack latency
    of 100 commands in bursts of 20, and approve click -> publish request."""
    async with World() as world:
        world.database_url = database_url
        world.openai.reply_with(draft_from_brief)
        [bot] = await spawn_bots(world, 1, "bot-latency")
        try:
            quiet_measurer()
            acks: list[float] = []
            for _ in range(BACKEND_ACK_COMMANDS // ACK_BURST):
                burst = await asyncio.gather(
                    *(world.slack.slash_command(REQUESTER, "") for _ in range(ACK_BURST))
                )
                acks += [ack.latency for ack in burst if ack.latency is not None]
                await asyncio.sleep(0.2)
            approvals = await approve_to_publish(world, BACKEND_APPROVALS)
        finally:
            await bot.stop()
    return {"ack": summary(acks), "approve_to_publish": summary(approvals)}


def pid_of(owner: str | None) -> int:
    """The process id in a worker's lease owner name (host:pid:nonce)."""
    return int((owner or "::").split(":")[1] or 0)


async def failover(database_url: str) -> dict[str, Any]:
    """Two processes; the one running a publish (X holds the request) is killed with
    SIGKILL: seconds until the other one's publish request reaches X."""
    from storage import open_store
    from storage.models import JobStatus

    async with World() as world:
        world.database_url = database_url
        world.slack.dispatch = "random"
        bots = await spawn_bots(world, 2, "bot-failover")
        store = await open_store(database_url)
        try:
            lease = float(environment(world)["SOCIALPOST_JOB_LEASE"])
            card = await pending_cards(world, "Failover", 1)
            world.x.hold(1)
            await world.slack.click_button(APPROVER, "socialpost_approve", message=card[0])
            await world.x.wait_for_held(1, timeout=30)
            running = await store.jobs.with_status(JobStatus.RUNNING)
            [held] = [job for job in running if job.kind == "publish"]
            holder = next(b for b in bots if b.proc and b.proc.pid == pid_of(held.lease_owner))
            seen = len(world.x.requests)
            assert holder.proc is not None
            holder.proc.kill()
            killed = time.monotonic()
            await holder.proc.wait()
            world.x.release()
            await _wait(lambda: True if len(world.x.requests) > seen else None, 120, "takeover")
            took = world.x.requests[seen].at - killed
        finally:
            await store.close()
            await stop_all(bots)
    return {"lease_s": lease, "seconds_to_publish": round(took, 2), "target_s": lease + 1}


async def throughput(database_url: str, processes: int) -> dict[str, Any]:
    """`processes` bots, a platform answering in 50 ms: approved posts published per second
    (60 posts approved at once, from the first click to the last tweet)."""
    async with World() as world:
        world.database_url = database_url
        world.slack.dispatch = "random"
        world.openai.reply_with(draft_from_brief)
        bots = await spawn_bots(world, processes, f"bot-throughput-{processes}")
        try:
            cards = await pending_cards(world, "Throughput", THROUGHPUT_POSTS)
            world.x.latency = PLATFORM_LATENCY
            before = len(world.x.tweets)
            started = time.monotonic()
            await asyncio.gather(
                *(
                    world.slack.click_button(APPROVER, "socialpost_approve", message=card)
                    for card in cards
                )
            )
            await _wait(
                lambda: True if len(world.x.tweets) - before >= len(cards) else None,
                300,
                "every post published",
            )
            took = time.monotonic() - started
        finally:
            await stop_all(bots)
    return {
        "posts": len(cards),
        "seconds": round(took, 2),
        "per_second": round(len(cards) / took, 1),
    }


@contextlib.contextmanager
def throwaway_postgres(report: Report, figure: str) -> Iterator[PostgresServer | None]:
    """The test suite's throwaway PostgreSQL server for the block, stopped after it; None
    (and `figure` recorded as skipped) when this machine has no server binaries."""
    bindir = find_binaries()
    if bindir is None:
        report.add(figure, skipped="no PostgreSQL server binaries")
        yield None
        return
    server = PostgresServer.start(bindir)
    try:
        yield server
    finally:
        server.stop()


async def multi_process(report: Report) -> None:
    """Several processes on one PostgreSQL database (the test suite's throwaway server):
    exactly once, failover, latency against SQLite, throughput with 1 and 3 processes."""
    RESULTS.mkdir(exist_ok=True)
    with throwaway_postgres(report, "multi_process") as server:
        if server is None:
            return
        sqlite = await backend_latency(None)
        postgres = await backend_latency(await server.create_database())
        report.add(
            "backend_latency",
            sqlite=sqlite,
            postgres=postgres,
            ack_p99_ratio=round(postgres["ack"]["p99_ms"] / sqlite["ack"]["p99_ms"], 2),
            approve_p50_ratio=round(
                postgres["approve_to_publish"]["p50_ms"] / sqlite["approve_to_publish"]["p50_ms"],
                2,
            ),
        )
        async with World() as world:
            world.database_url = await server.create_database()
            world.slack.dispatch = "random"
            world.openai.reply_with(draft_from_brief)
            bots = await spawn_bots(world, MULTI_PROCESSES, "bot-exactly-once")
            try:
                once = await exactly_once(world)
            finally:
                await stop_all(bots)
        report.add("exactly_once_3_processes", processes=MULTI_PROCESSES, **once)
        report.add("failover", **await failover(await server.create_database()))
        report.add(
            "throughput",
            one_process=await throughput(await server.create_database(), 1),
            three_processes=await throughput(await server.create_database(), MULTI_PROCESSES),
            platform_latency_ms=PLATFORM_LATENCY * 1000,
        )


def multi_process_markdown(report: Report) -> str:
    """The several-processes figures as a Markdown table."""
    f = report.figures
    if "backend_latency" not in f:
        return ""
    latency, once, fail, rate = (
        f["backend_latency"],
        f["exactly_once_3_processes"],
        f["failover"],
        f["throughput"],
    )
    sqlite, postgres = latency["sqlite"], latency["postgres"]
    rows = [
        (
            "Ack p99, one process (PostgreSQL / SQLite)",
            f"{postgres['ack']['p99_ms']} ms / {sqlite['ack']['p99_ms']} ms"
            f" ({latency['ack_p99_ratio']}x)",
        ),
        (
            "Approve -> publish request p50 (PostgreSQL / SQLite)",
            f"{postgres['approve_to_publish']['p50_ms']} ms"
            f" / {sqlite['approve_to_publish']['p50_ms']} ms ({latency['approve_p50_ratio']}x)",
        ),
        (
            f"Exactly once, {once['processes']} processes: tweets for {once['posts']} posts x"
            f" {EXACTLY_ONCE_CLICKS} concurrent clicks",
            f"{once['tweets']} tweets ({once['clicks']} clicks)",
        ),
        (
            "Failover: SIGKILL of the process running a publish -> the other's publish request",
            f"{fail['seconds_to_publish']} s (lease {fail['lease_s']} s, target"
            f" {fail['target_s']} s)",
        ),
        (
            f"Throughput, X answering in {rate['platform_latency_ms']:.0f} ms (1 / 3 processes)",
            f"{rate['one_process']['per_second']} / {rate['three_processes']['per_second']}"
            " posts per second",
        ),
    ]
    lines = ["| several processes on PostgreSQL | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"


# --- text measurement -----------------------------------------------------------------------

# (name, text, as an X thread?): the costliest texts found for twitter-text and the splitter.
WORST_TEXTS: list[tuple[str, str, bool]] = [
    ('"a." x 1500, saved in Edit', "a." * 1500, False),
    ('"a." x 140, a valid post', "a." * 140, False),
    ('"x.co." + "a." x 1000', "x.co." + "a." * 1000, False),
    ('"x.co." + "a." x 3000', "x.co." + "a." * 3000, False),
    ('"a." x 150 as a thread', "a." * 150, True),
    ('"word " x 500 as a thread', "word " * 500, True),
    ("700 CJK characters, no spaces, as a thread", "这是一个没有空格的很长的句子" * 50, True),
    ('20 x ("a_" x 2000 + "b.com"): too complex', " ".join(["a_" * 2000 + "b.com"] * 20), False),
]
PARSE_TWEET_CAP = 30.0


def parse_tweet_seconds(text: str) -> float | None:
    """How long twitter-text's parse_tweet takes on `text` (what measuring cost before), in a
    subprocess; None when over `PARSE_TWEET_CAP`."""
    script = (
        "import sys, time\nfrom twitter_text import parse_tweet\ntext = sys.stdin.read()\n"
        "started = time.perf_counter(); parse_tweet(text)\n"
        "print(time.perf_counter() - started)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=text,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=PARSE_TWEET_CAP,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout)


async def measured_off_loop(text: str, thread: bool) -> tuple[float, float, Any]:
    """Seconds `measure_draft_async` takes cold, the longest the event loop was blocked
    meanwhile, and the measurement."""
    from services.platforms import measure_draft_async
    from services.platforms.budget import clear_caches

    clear_caches()
    worst = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal worst
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    measurement = await measure_draft_async("x", text, thread=thread)
    took = time.perf_counter() - started
    done.set()
    await watcher
    return took, worst, measurement


def slowest_found_by_hypothesis() -> tuple[str, float]:
    """A targeted hypothesis search for the text (up to ~1,500 characters of pieces of URLs,
    dots, TLDs, CJK, emoji) that makes the bounded count slowest; returns it and its cold
    seconds."""
    from hypothesis import HealthCheck, Phase, given, settings, target
    from hypothesis import strategies as st

    from services.platforms.budget import clear_caches
    from services.platforms.x.count import x_count

    pieces = st.sampled_from(
        ["a", ".", "_", "-", "co", "com", "/", ":", "https://", "@", "#", "日", "é", "x", "1",
         "(", ")", "?", "=", "&", "xn--", "t.co/", "中国", "\u0131", "\U0001f468\u200d"]
    )  # fmt: skip
    slowest: list[tuple[float, str]] = [(0.0, "")]

    @settings(
        max_examples=400,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.target],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(pieces, min_size=1, max_size=600).map("".join))
    def search(text: str) -> None:
        clear_caches()
        started = time.perf_counter()
        x_count(text)
        took = time.perf_counter() - started
        target(took * 1000, label="milliseconds")
        slowest[0] = max(slowest[0], (took, text))

    search()
    took, text = slowest[0]
    return text, took


def text_measurement(report: Report) -> None:
    """The bounded count and the splitter on the worst texts, and parse_tweet on the same."""
    from services.platforms import measure_draft
    from services.platforms.budget import clear_caches

    rows = []
    for name, text, thread in WORST_TEXTS:
        before = parse_tweet_seconds(text)
        cold, blocked, measurement = asyncio.run(measured_off_loop(text, thread))
        started = time.perf_counter()
        cached = measure_draft("x", text, thread=thread)
        warm = time.perf_counter() - started
        assert cached == measurement
        rows.append(
            {
                "text": name,
                "chars": len(text),
                "parse_tweet_ms": None if before is None else round(before * 1000, 1),
                "cold_ms": round(cold * 1000, 1),
                "cached_us": round(warm * 1e6, 1),
                "loop_blocked_ms": round(blocked * 1000, 1),
                "verdict": "; ".join(problem.split(" (")[0] for problem in measurement.problems)
                or f"fits ({measurement.parts} post{'s' if measurement.parts > 1 else ''})",
            }
        )
        print(f"  {rows[-1]}", flush=True)
    text, took = slowest_found_by_hypothesis()
    clear_caches()
    rows.append(
        {
            "text": f"slowest found by hypothesis: {text[:30]!r}…",
            "chars": len(text),
            "parse_tweet_ms": round((parse_tweet_seconds(text) or PARSE_TWEET_CAP) * 1000, 1),
            "cold_ms": round(took * 1000, 1),
            "cached_us": None,
            "loop_blocked_ms": None,
            "verdict": "",
        }
    )
    report.add("text_measurement", rows=rows)


def text_markdown(report: Report) -> str:
    """The text-measurement figures as a Markdown table."""
    lines = [
        "| text | chars | twitter-text `parse_tweet` (before: on the event loop) "
        "| bounded count, cold (worker thread) | cached | event loop blocked meanwhile "
        "| verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report.figures["text_measurement"]["rows"]:
        before = row["parse_tweet_ms"]
        before_text = f"over {PARSE_TWEET_CAP:.0f} s" if before is None else f"{before} ms"
        cached = "-" if row["cached_us"] is None else f"{row['cached_us']} µs"
        blocked = "-" if row["loop_blocked_ms"] is None else f"{row['loop_blocked_ms']} ms"
        lines.append(
            f"| {row['text']} | {row['chars']} | {before_text} | {row['cold_ms']} ms "
            f"| {cached} | {blocked} | {row['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def write_text_figures(table: str, host: dict[str, Any]) -> None:
    """Replace the text-measurement figures in BENCHMARKS.md."""
    doc = DOC.read_text(encoding="utf-8")
    head, start, rest = doc.partition(TEXT_START)
    _, end, tail = rest.partition(TEXT_END)
    if not (start and end):
        raise SystemExit(f"{DOC} has no {TEXT_START!r} ... {TEXT_END!r} lines")
    measured = "Measured {date} on {cpus} CPUs, Python {python}.".format(**host)
    DOC.write_text(f"{head}{TEXT_START}\n\n{measured}\n\n{table}\n{TEXT_END}{tail}", "utf-8")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(report: Report, host: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    f = report.figures
    ack = f["ack_latency"]
    rows = [
        (
            "Start-up to first ack (bot / bare Bolt)",
            "{bot_s} s / {bare_bolt_s} s".format(**f["startup_to_first_ack"]),
        ),
        (
            "Ack p50, 200 commands in bursts of 20 (bot / bare Bolt)",
            f"{ack['bot']['p50_ms']} ms / {ack['bare_bolt']['p50_ms']} ms",
        ),
        (
            "Ack p99 (bot / bare Bolt)",
            f"{ack['bot']['p99_ms']} ms / {ack['bare_bolt']['p99_ms']} ms",
        ),
        ("Ack ratio bot / bare Bolt (p50, p99)", f"{ack['p50_ratio']}x, {ack['p99_ratio']}x"),
    ]
    for name, label in [
        ("submit_to_placeholder_card", "Submit -> placeholder card"),
        ("submit_to_draft_card", "Submit -> draft card (instant fake LLM)"),
        ("approve_to_publish_request", "Approve click -> publish request at X"),
    ]:
        rows.append(
            (
                f"{label} (p50 / p99, n={f[name]['n']})",
                f"{f[name]['p50_ms']} ms / {f[name]['p99_ms']} ms",
            )
        )
    for name, backend in [("api_generate", "SQLite"), ("api_generate_postgres", "PostgreSQL")]:
        api = f.get(name)
        if api and "answer" in api:
            answer, card = api["answer"], api["placeholder_card"]
            rows.append(
                (
                    f"API, {api['clients']} clients on {backend}: answer / POST -> placeholder "
                    f"card (p50 / p99, n={api['requests']})",
                    f"{answer['p50_ms']} / {answer['p99_ms']} ms; "
                    f"{card['p50_ms']} / {card['p99_ms']} ms",
                )
            )
    once = f["exactly_once"]
    rows.append(
        (
            "Exactly once: tweets for 100 posts x 50 concurrent clicks",
            f"{once['tweets']} tweets ({once['clicks']} clicks)",
        )
    )
    idle, after = f["memory_idle_mib"], f["memory_after_1000_drafts_mib"]
    final = f["memory_end_of_run_mib"]
    rows.append(("RSS idle (current / peak)", f"{idle['rss']} MiB / {idle['peak']} MiB"))
    rows.append(
        (
            "RSS after 1,000 drafts (current / peak)",
            f"{after['rss']} MiB / {after['peak']} MiB ({after['growth_vs_idle_pct']:+}% vs idle)",
        )
    )
    rows.append(
        (
            "RSS at the end of the run, after the click storm (current / peak)",
            f"{final['rss']} MiB / {final['peak']} MiB",
        )
    )
    lines = [
        "Measured {date} on {cpus} CPUs, Python {python}, {platform}.".format(**host),
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
    ]
    return "\n".join(lines) + "\n"


API_CLIENTS = 20
API_ROUNDS = 5
API_KEY = "k_bench_0123456789abcdef"
API_BRIEF = re.compile(r"API brief \d+-\d+\.")


async def api_intake_on_both(report: Report) -> None:
    """The intake API on SQLite, then on PostgreSQL (the test suite's throwaway server) when
    its binaries are here."""
    await api_intake(report)
    with throwaway_postgres(report, "api_generate_postgres") as server:
        if server is not None:
            await api_intake(report, await server.create_database(), name="api_generate_postgres")


async def api_intake(
    report: Report, database_url: str | None = None, *, name: str = "api_generate"
) -> None:
    """POST /posts/generate from 20 concurrent clients: the API's answer and the placeholder
    card in the approval channel, each p50/p99 (on SQLite, or on `database_url`)."""
    import aiohttp

    RESULTS.mkdir(exist_ok=True)
    async with World() as world:
        world.openai.reply_with(draft_from_brief)
        port = 38000 + os.getpid() % 1000
        env = {
            **environment(world),
            "SOCIALPOST_API_KEYS": f"bench:{API_KEY}",
            "SOCIALPOST_HTTP_PORT": str(port),
            "SOCIALPOST_API_RATE_LIMIT": "1000000/1",
        }
        if database_url is not None:
            env["SOCIALPOST_DATABASE_URL"] = database_url
        bot = Process("bot", env, RESULTS / f"bot-{name}.log")
        await bot.start()
        try:
            await first_ack(world.slack, bot)
            base = f"http://127.0.0.1:{port}"
            answers: list[float] = []
            cards: list[float] = []
            headers = {"Authorization": f"Bearer {API_KEY}"}

            # The first card naming each brief, noted as its chat.postMessage arrives: 20
            # clients each scanning every call on every change would load this process
            # (which also runs Slack) enough to delay the very arrivals being timed.
            arrivals: dict[str, asyncio.Future[float]] = {}

            def note_card(call: Any) -> None:
                if call.method != "chat.postMessage":
                    return
                for brief in API_BRIEF.findall(json.dumps(call.args.get("blocks"))):
                    arrival = arrivals.get(brief)
                    if arrival is not None and not arrival.done():
                        arrival.set_result(call.at)

            world.slack.call_observers.append(note_card)
            loop = asyncio.get_running_loop()
            async with aiohttp.ClientSession() as session:

                async def client(number: int) -> None:
                    for round_ in range(API_ROUNDS):
                        brief = f"API brief {number}-{round_}."
                        arrivals[brief] = loop.create_future()
                        sent = time.monotonic()
                        async with session.post(
                            f"{base}/posts/generate",
                            json={"query": brief, "social_platform": "x"},
                            headers=headers,
                        ) as response:
                            body = await response.read()
                            assert response.status == 202, (response.status, body[:300])
                        answers.append(time.monotonic() - sent)
                        async with asyncio.timeout(30):
                            cards.append(await arrivals[brief] - sent)

                for _ in range(50):  # the server starts with the bot
                    try:
                        async with session.get(f"{base}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.2)
                await asyncio.gather(*[client(n) for n in range(API_CLIENTS)])
            report.add(
                name,
                clients=API_CLIENTS,
                requests=len(answers),
                answer=summary(answers),
                placeholder_card=summary(cards),
            )
        finally:
            await bot.stop()


def main() -> None:
    """Run the benchmark and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--update-doc", action="store_true", help="write the figures into BENCHMARKS.md"
    )
    parser.add_argument(
        "--only",
        choices=["text-measurement", "api", "multi-process"],
        help="run one section only (its figures alone are written)",
    )
    args = parser.parse_args()
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        del os.environ[name]
    report = Report()
    if args.only == "api":
        asyncio.run(api_intake_on_both(report))
        print(json.dumps({k: v for k, v in report.figures.items() if k.startswith("api")}))
        return
    if args.only != "multi-process":
        text_measurement(report)
    if args.only is None:
        asyncio.run(api_intake_on_both(report))
        asyncio.run(run(report))
    if args.only in (None, "multi-process"):
        asyncio.run(multi_process(report))
    host = machine()
    text_table = text_markdown(report) if "text_measurement" in report.figures else ""
    table = "" if args.only else markdown(report, host)
    several = multi_process_markdown(report)
    table += ("\n" if table and several else "") + several
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({"machine": host, **report.figures}, indent=2))
    (RESULTS / "latest.md").write_text(table + "\n" + text_table)
    print("\n" + table + "\n" + text_table)
    if args.update_doc and text_table:
        write_text_figures(text_table, host)
        if not args.only:
            doc = DOC.read_text(encoding="utf-8")
            head, sep, _ = doc.partition(MARKER)
            if not sep:
                raise SystemExit(f"{DOC} has no {MARKER!r} line")
            DOC.write_text(f"{head}{MARKER}\n\n{table}", encoding="utf-8")


if __name__ == "__main__":
    main()
