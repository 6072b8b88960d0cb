"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary data directory,
127.0.0.1 on a free port, durability off (`fsync=off`: nothing here must survive a crash).

    server = PostgresServer.start(bindir)    # bindir: `find_binaries()`, None when there is none
    url = await server.create_database()     # a fresh, empty database, as a URL with a password
    server.stop()

The fixtures (`postgres_server`, once per run, with a migrated template database, and
`postgres_url`, a fresh migrated database per test) are imported by tests/conftest.py. Without
PostgreSQL binaries the tests that need them skip, and the run ends with ONE loud line saying
so; with SOCIALPOST_TESTS_REQUIRE_POSTGRES set (`.ci/run` sets it) they fail instead, so CI
can't pass by skipping them.

`pg_ctl` refuses to run as root, so when the tests run as root the server runs as the
`postgres` user (`runuser`), with a data directory it owns. The superuser has a password and
the server asks for it (scram-sha-256), so a wrong password is refused as it would be in
production.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

import asyncpg
import pytest
import sqlalchemy

SUPERUSER = "socialpost_test"
# Name of the variable that makes a machine without PostgreSQL fail the tests instead of
# skipping them; CI sets it (.ci/run), so CI can't pass without running them.
REQUIRED_VARIABLE = "SOCIALPOST_TESTS_REQUIRE_POSTGRES"
# Read once at import: the tests' clean environment removes every SOCIALPOST_ variable.
REQUIRED = os.environ.get(REQUIRED_VARIABLE, "") not in ("", "0", "false")
TEMPLATE = "socialpost_template"
"""A database migrated once per run; each test's database is a copy of it (much faster than
migrating each)."""


def find_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`: `pg_config --bindir`, else Debian's
    /usr/lib/postgresql/<version>/bin (newest first), else the PATH; None without them."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10
        )
        candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        (Path(path) for path in versions), key=lambda path: _version(path), reverse=True
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version(folder: Path) -> int:
    try:
        return int(folder.parent.name)
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One running server, stopped (and its directory removed) by `stop()`."""

    def __init__(self, bindir: Path, directory: Path, port: int, password: str) -> None:
        self.bindir = bindir
        self.directory = directory
        self.port = port
        self.password = password
        self._databases = 0

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.directory / "data"

    @classmethod
    def start(cls, bindir: Path, *, attempts: int = 3) -> Self:
        """initdb and start a server; retried on another port if the chosen one was taken."""
        directory = Path(tempfile.mkdtemp(prefix="socialpost-pg-"))
        password = secrets.token_hex(12)
        server = cls(bindir, directory, 0, password)
        try:
            server._initdb()
            for attempt in range(attempts):
                server.port = _free_port()
                try:
                    server._run(
                        "pg_ctl",
                        "start",
                        "-w",
                        "-t",
                        "60",
                        "-D",
                        str(server.data),
                        "-l",
                        str(directory / "server.log"),
                        "-o",
                        server._options(),
                    )
                    break
                except subprocess.CalledProcessError:
                    if attempt == attempts - 1:
                        raise
        except BaseException as exc:
            log = directory / "server.log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(
                f"the test PostgreSQL server did not start: {exc}\n{detail}"
            ) from exc
        return server

    def _as_server_user(self) -> list[str]:
        # pg_ctl and initdb refuse root: run them as the `postgres` user then.
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *arguments: str) -> None:
        subprocess.run(
            [*self._as_server_user(), str(self.bindir / tool), *arguments],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.directory,
        )

    def _initdb(self) -> None:
        password_file = self.directory / "password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            shutil.chown(password_file, "postgres", "postgres")
        self._run(
            "initdb",
            "-D", str(self.data),
            "-U", SUPERUSER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        password_file.unlink()

    def _options(self) -> str:
        return " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                # The socket lives in our own directory (the system's /run/postgresql may not
                # exist or not be ours).
                f"-c unix_socket_directories={self.directory}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c shared_buffers=64MB",
            ]
        )

    def url(self, database: str, *, password: str | None = None, port: int | None = None) -> str:
        """The URL of `database` on this server (with another password or port if given)."""
        secret = self.password if password is None else password
        return f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{port or self.port}/{database}"

    async def execute(self, statement: str, database: str = "postgres") -> None:
        """Run one statement on `database` as the superuser (outside a transaction)."""
        connection = await asyncpg.connect(self.url(database))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    async def create_database(self, *, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); its URL."""
        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        suffix = f" TEMPLATE {template}" if template else ""
        await self.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        """Drop the database of `url`, closing whatever is still connected to it."""
        name = sqlalchemy.engine.make_url(url).database
        await self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.directory, ignore_errors=True)


_missing: list[str] = []


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The run's PostgreSQL server, with `TEMPLATE` migrated; skips (under CI: fails) the
    tests that need it where there are no PostgreSQL binaries."""
    bindir = find_binaries()
    if bindir is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl: Debian's postgresql package)"
        if REQUIRED:
            pytest.fail(f"{reason}, and {REQUIRED_VARIABLE} says these tests must run")
        _missing.append(reason)
        pytest.skip(reason)
    server = PostgresServer.start(bindir)
    try:
        # On a thread of its own: a test's event loop may be running on this one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, _make_template(server)).result()
        yield server
    finally:
        server.stop()


async def _make_template(server: PostgresServer) -> None:
    from storage import open_store

    await server.execute(f"CREATE DATABASE {TEMPLATE}")
    store = await open_store(server.url(TEMPLATE))
    await store.close()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh database with socialpost's schema, for one test; dropped afterwards."""
    url = await postgres_server.create_database(template=TEMPLATE)
    yield url
    await postgres_server.drop_database(url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The one loud line when the PostgreSQL tests could not run."""
    if _missing:
        terminalreporter.write_line(
            f"POSTGRESQL TESTS SKIPPED: {_missing[0]}. Install it (apt-get install postgresql)"
            " to run them.",
            red=True,
            bold=True,
        )
