"""The emulated world and a running bot, for end-to-end tests and the benchmark script.

`World` starts Slack, two LLM providers (OpenAI- and Anthropic-compatible), X, LinkedIn and
Instagram on 127.0.0.1. `World.start_bot()` runs the real bot (`bot.runner.serve`) in this
event loop against them, configured only through the environment variables of SPEC section 2;
`World.bot_environment()` gives the same variables for a bot run as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from services.clock import Clock
from tests.support.emulators.base import wait_until
from tests.support.emulators.llm import FakeLLM
from tests.support.emulators.platforms import FakeInstagram, FakeLinkedIn, FakeX
from tests.support.emulators.slack import Ack, Message, SlackEmulator

REPO = Path(__file__).resolve().parents[2]
APPROVAL_CHANNEL = "C0APPROVALS"
REQUESTER = "U0REQUESTER"
APPROVER = "U0APPROVER"
OTHER_APPROVER = "U0BOSS"
OUTSIDER = "U0OUTSIDER"
OPENAI_KEY = "sk-test-openai-key-0123456789"
ANTHROPIC_KEY = "sk-ant-test-anthropic-key-0123456789"
DEFAULT_DRAFT = "Our spring release is out: faster drafts, safer approvals. Try it today!"


def draft_from_brief(request: Any) -> str:
    """A fake LLM reply that differs per brief (X refuses identical posts as duplicates)."""
    brief = request.user_text.split("<brief>")[-1].split("</brief>")[0].strip()
    return f"Draft: {brief}"


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` holding exactly `values` on top of the current one, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class World:
    """Every emulated service, started and stopped together."""

    def __init__(self) -> None:
        self.slack = SlackEmulator()
        self.openai = FakeLLM("openai")
        self.anthropic = FakeLLM("anthropic")
        self.x = FakeX()
        self.linkedin = FakeLinkedIn()
        self.instagram = FakeInstagram()
        self._tmp = tempfile.TemporaryDirectory(prefix="socialpost-")
        self.dir = Path(self._tmp.name)
        self.db_path = self.dir / "socialpost.db"
        self.database_url: str | None = None
        """SOCIALPOST_DATABASE_URL for the bots (a test PostgreSQL database), else SQLite at
        `db_path`."""
        self.bots: list[Bot] = []
        self.processes: list[BotProcess] = []
        self.openai.reply_with(DEFAULT_DRAFT)
        self.anthropic.reply_with(DEFAULT_DRAFT)

    @property
    def servers(self) -> list[Any]:
        """Every emulator."""
        return [self.slack, self.openai, self.anthropic, self.x, self.linkedin, self.instagram]

    async def __aenter__(self) -> Self:
        for server in self.servers:
            await server.start()
        self.slack.add_channel(APPROVAL_CHANNEL, "social-approvals")
        for user, name in [
            (REQUESTER, "rita"),
            (APPROVER, "alex"),
            (OTHER_APPROVER, "bo"),
            (OUTSIDER, "olly"),
        ]:
            self.slack.add_user(user, name)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for bot in list(self.bots):
            await bot.stop()
        for process in self.processes:
            await process.terminate()
        for server in self.servers:
            await server.stop()
        self._tmp.cleanup()

    def write_llm_config(self, *, openai_first: bool = True) -> Path:
        """A litellm `model_list` YAML: the OpenAI-compatible fake, then the Anthropic one."""
        openai = (
            "  - model_name: primary\n"
            "    litellm_params:\n"
            "      model: openai/gpt-4o-mini\n"
            f"      api_base: {self.openai.url}/v1\n"
            "      api_key: os.environ/OPENAI_API_KEY\n"
        )
        anthropic = (
            "  - model_name: secondary\n"
            "    litellm_params:\n"
            "      model: anthropic/claude-3-5-haiku-latest\n"
            f"      api_base: {self.anthropic.url}\n"
            "      api_key: os.environ/ANTHROPIC_API_KEY\n"
        )
        path = self.dir / "llm.yaml"
        entries = openai + anthropic if openai_first else anthropic + openai
        path.write_text("model_list:\n" + entries, encoding="utf-8")
        return path

    def bot_environment(self, **overrides: str | None) -> dict[str, str]:
        """The bot's configuration, pointing every service at its emulator.

        Keyword names are environment variable names; None removes a variable.
        """
        values: dict[str, str | None] = {
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_APP_TOKEN": self.slack.app_token,
            "SLACK_API_URL": self.slack.api_url,
            "SOCIALPOST_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
            "SOCIALPOST_APPROVERS": f"{APPROVER},{OTHER_APPROVER}",
            "SOCIALPOST_DB_PATH": str(self.db_path),
            "SOCIALPOST_DATABASE_URL": self.database_url,
            "SOCIALPOST_LLM_CONFIG": str(self.write_llm_config()),
            "OPENAI_API_KEY": OPENAI_KEY,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "SOCIALPOST_LLM_TIMEOUT": "3",
            "SOCIALPOST_LLM_COOLDOWN": "30",
            "X_API_KEY": self.x.consumer_key,
            "X_API_SECRET": self.x.consumer_secret,
            "X_ACCESS_TOKEN": self.x.access_token,
            "X_ACCESS_TOKEN_SECRET": self.x.access_token_secret,
            "X_API_URL": self.x.url,
            "LINKEDIN_ACCESS_TOKEN": self.linkedin.access_token,
            "LINKEDIN_AUTHOR_URN": "urn:li:organization:1234567",
            "LINKEDIN_API_URL": self.linkedin.url,
            "LINKEDIN_VERSION": "202610",
            "INSTAGRAM_ACCESS_TOKEN": self.instagram.access_token,
            "INSTAGRAM_USER_ID": self.instagram.user_id,
            "INSTAGRAM_API_URL": self.instagram.api_url,
            "SOCIALPOST_DRY_RUN": "auto",
            "SOCIALPOST_RETRY_MAX_ATTEMPTS": "3",
            "SOCIALPOST_RETRY_BASE_DELAY": "0.05",
            "SOCIALPOST_RETRY_MAX_DELAY": "0.2",
            "SOCIALPOST_JOB_LEASE": "2",
            "SOCIALPOST_PLATFORM_COOLDOWN": "0.3",
            "SOCIALPOST_SOCKET_PING_INTERVAL": "0.5",
            "SOCIALPOST_SHUTDOWN_GRACE": "2",
            "SOCIALPOST_RATE_LIMIT": "100/60",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "console",
        }
        values.update(overrides)
        return {name: value for name, value in values.items() if value is not None}

    def process_environment(self, **overrides: str | None) -> dict[str, str]:
        """The whole environment of a bot subprocess: this one without proxies or stray
        SOCIALPOST_ settings, plus `bot_environment(**overrides)` and the repository on
        PYTHONPATH."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.lower().endswith("_proxy") and not key.startswith("SOCIALPOST_")
        }
        env.update(self.bot_environment(**overrides))
        env["PYTHONPATH"] = str(REPO)
        return env

    async def spawn_bot(self, *, connect: bool = True, **overrides: str | None) -> BotProcess:
        """Run `python -m bot` as a subprocess with the same configuration; with `connect`,
        wait until its Socket Mode connection is up."""
        process = BotProcess(self, self.process_environment(**overrides))
        # A fresh process's first interactions can take seconds on a loaded 2-core machine
        # (first-use imports, the litellm router warming up): wait longer for their acks.
        self.slack.ack_timeout = max(self.slack.ack_timeout, SUBPROCESS_ACK_TIMEOUT)
        self.processes.append(process)
        return await process.start(connect=connect)

    async def start_bot(self, *, clock: Clock | None = None, **overrides: str | None) -> Bot:
        """Run the real bot in this event loop until the test ends (or `Bot.stop()`), going
        by `clock` (default: the machine's)."""
        from bot.runner import serve
        from bot.settings import load_settings

        with environment(self.bot_environment(**overrides)):
            settings = load_settings(env_file=None)
        bot = Bot(self, settings)
        ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        bot.task = asyncio.create_task(
            serve(settings, bot.stop_event, on_ready=ready.set_result, clock=clock), name="bot"
        )
        done, _ = await asyncio.wait(
            {bot.task, ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED
        )
        if bot.task in done:
            bot.task.result()
        if ready not in done:
            raise TimeoutError("the bot did not start")
        bot.runtime = ready.result()
        if settings.connection.mode == "socket":
            await self.slack.wait_connected()
        self.bots.append(bot)
        return bot


class SlackUser:
    """The moves people make in Slack against a bot, and what they see."""

    world: World
    slack: SlackEmulator

    async def open_modal(self, user: str = REQUESTER, text: str = "") -> dict[str, Any]:
        """Type `/socialpost <text>` and return the modal the bot opened."""
        before = len(self.slack.calls)
        ack = await self.slack.slash_command(user, text)
        assert ack.received, "the command was not acked"
        call = await self.slack.wait_for_call("views.open", after=before)
        view: dict[str, Any] = call.response["view"]
        return view

    async def submit(
        self,
        brief: str = "Announce our spring release: faster drafts and safer approvals.",
        *,
        user: str = REQUESTER,
        platforms: tuple[str, ...] = ("x",),
        tone: str | None = None,
        image_url: str | None = None,
        view: dict[str, Any] | None = None,
    ) -> tuple[Ack, dict[str, Any]]:
        """Open the modal, fill it in and submit it; returns the ack and the view."""
        view = view or await self.open_modal(user)
        values: dict[str, dict[str, Any]] = {
            "brief": {"brief": {"type": "plain_text_input", "value": brief}},
            "platform": {
                "platform": {
                    "type": "checkboxes",
                    "selected_options": [
                        {"value": p, "text": {"type": "plain_text", "text": p}} for p in platforms
                    ],
                }
            },
            "image_url": {"image_url": {"type": "plain_text_input", "value": image_url}},
        }
        if tone is not None:
            values["tone"] = {
                "tone": {
                    "type": "static_select",
                    "selected_option": {
                        "value": tone,
                        "text": {"type": "plain_text", "text": tone},
                    },
                }
            }
        ack = await self.slack.submit_view(view, user, values)
        return ack, view

    def cards(self) -> list[Message]:
        """The bot's messages in the approval channel, oldest first."""
        return self.slack.channel_messages(APPROVAL_CHANNEL)

    async def wait_card(
        self, predicate: Callable[[Message], bool], *, timeout: float = 10.0, what: str = "card"
    ) -> Message:
        """The first card in the approval channel for which `predicate` holds, once it does."""

        def find() -> Message | None:
            return next((card for card in self.cards() if predicate(card)), None)

        found: Message = await wait_until(find, timeout=timeout, message=what)
        return found

    async def draft_card(self, *, timeout: float = 10.0) -> Message:
        """The first card showing a draft with its Approve button."""
        return await self.wait_card(
            lambda card: "socialpost_approve" in card.buttons(), timeout=timeout, what="draft card"
        )

    async def click(self, card: Message, action: str, user: str = APPROVER) -> Ack:
        """Click a button of `card` (action: approve, reject, retry, discard, edit, regenerate)."""
        return await self.slack.click_button(user, f"socialpost_{action}", message=card)

    async def click_stale(self, snapshot: Message, action: str, user: str = APPROVER) -> Ack:
        """Click a button on an old copy of a card (a client that hasn't refreshed yet)."""
        action_id = f"socialpost_{action}"
        value = snapshot.buttons()[action_id]
        block_id = next(
            block["block_id"]
            for block in snapshot.blocks
            for element in block.get("elements", [])
            if element.get("action_id") == action_id
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "api_app_id": self.slack.app_id,
            "team": {"id": self.slack.team_id, "domain": self.slack.team_domain},
            "container": {
                "type": "message",
                "message_ts": snapshot.ts,
                "channel_id": snapshot.channel,
                "is_ephemeral": False,
            },
            "channel": {"id": snapshot.channel, "name": "social-approvals"},
            "message": snapshot.to_dict(),
            "trigger_id": self.slack.issue_trigger_id(user),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": "1.0",
                }
            ],
        }
        return await self.slack.send_envelope("interactive", payload)

    def ephemerals_for(self, user: str) -> list[str]:
        """Every ephemeral text sent to `user`."""
        return [str(e.get("text") or "") for e in self.slack.ephemerals if e.get("user") == user]

    def dms_to(self, user: str) -> list[Message]:
        """The bot's direct messages to `user`."""
        return self.slack.channel_messages(self.slack.dm_channel(user))


SUBPROCESS_ACK_TIMEOUT = 15.0
"""Seconds the emulator waits for a subprocess bot's ack (an in-process bot's is 5)."""


class BotProcess(SlackUser):
    """The bot run as `python -m bot` in a subprocess, for crash tests (SIGKILL)."""

    def __init__(self, world: World, env: dict[str, str]) -> None:
        self.world = world
        self.slack = world.slack
        self.env = env
        self.log_path = world.dir / f"bot-{len(world.processes)}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 60.0, *, connect: bool = True) -> Self:
        """Start the process and (with `connect`) wait until its Socket Mode connection is up
        (a fresh process imports litellm and pydantic for ~10 s on an idle machine: the wait
        is generous for a shared, busy one)."""
        opened_before = self.world.slack.connection_opens
        log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=str(self.world.dir),
            env=self.env,
            stdout=log,
            stderr=log,
        )
        log.close()
        if not connect:
            return self

        def connected() -> bool:
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"the bot exited: {self.log_path.read_text()[-3000:]}")
            return self.world.slack.connection_opens > opened_before

        await wait_until(connected, timeout=timeout, message="the bot process to connect")
        await self.world.slack.wait_connected()
        return self

    async def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait until the process ends on its own; returns its exit code."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout=timeout)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, like a crash or an OOM kill."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def terminate(self) -> None:
        """SIGTERM: a graceful stop."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class Bot(SlackUser):
    """A bot running in-process (its runtime is at hand for inspection)."""

    def __init__(self, world: World, settings: Any) -> None:
        self.world = world
        self.settings = settings
        self.slack = world.slack
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.runtime: Any = None

    async def stop(self) -> None:
        """Shut the bot down the way SIGTERM does."""
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=15)
            self.task = None
        if self in self.world.bots:
            self.world.bots.remove(self)

    async def settle(self) -> None:
        """Wait until background drafts finished, the retry table has nothing due and App
        Home refreshes are done."""
        await self.runtime.tasks.join()
        await self.runtime.worker.drain()
        await self.runtime.home.idle()
