"""`python -m bot` / `socialpost`: read settings, set up logging, run the bot until stopped.

`socialpost migrate-to URL` copies the SQLite database of the current settings
(SOCIALPOST_DB_PATH, or a `sqlite:///` SOCIALPOST_DATABASE_URL) into the empty PostgreSQL
database at URL, then says how to point the bot at it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

EXIT_PROBLEM = 1


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="socialpost", description="The Slack-native approval loop for social posts."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    copy = commands.add_parser(
        "migrate-to",
        help="copy the SQLite database into an empty PostgreSQL database",
        description=(
            "Copy the SQLite database of the current settings (SOCIALPOST_DB_PATH, or a"
            " sqlite:/// SOCIALPOST_DATABASE_URL) into the empty PostgreSQL database at URL:"
            " posts, versions, publishing steps, jobs, audit log and platforms, with their ids"
            " and times. Stop the bot first."
        ),
    )
    copy.add_argument("url", metavar="URL", help="postgresql://user:password@host:port/dbname")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point; a configuration problem, or a database this process can't have, prints
    one clear message and exits 1."""
    arguments = _arguments(argv)
    if arguments.command == "migrate-to":
        raise SystemExit(migrate_to(arguments.url))

    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(EXIT_PROBLEM) from None

    from bot.runner import run
    from storage.errors import StorageError

    try:
        run(settings)
    except StorageError as exc:
        print(f"socialpost can't start: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_PROBLEM) from None


def migrate_to(url: str) -> int:
    """`socialpost migrate-to URL`; the exit status."""
    from bot.settings import SettingsError, load_storage_settings
    from storage import backend_of
    from storage.errors import StorageError
    from storage.postgres import postgres_url, shown
    from storage.transfer import copy_database

    try:
        storage = load_storage_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    source = storage.url
    if backend_of(source) != "sqlite":
        print(
            "socialpost migrate-to: copies a SQLite database, but SOCIALPOST_DATABASE_URL"
            " already names a PostgreSQL one; unset it (SOCIALPOST_DB_PATH names the file)",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    try:
        if backend_of(url) != "postgresql":
            raise StorageError(
                "URL must be a PostgreSQL database: postgresql://user:password@host:port/dbname"
            )
        target = shown(postgres_url(url))
        copied = asyncio.run(copy_database(source, url))
    except StorageError as exc:
        print(f"socialpost migrate-to: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    print(
        f"Copied {copied.summary()} from {storage.shown} into {target}.\n"
        "Now set SOCIALPOST_DATABASE_URL to that database and start the bot."
    )
    return 0


if __name__ == "__main__":
    main()
