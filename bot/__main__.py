"""`python -m bot` / `socialpost`: read settings, set up logging, run the bot until stopped."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point; a configuration problem, or a database this process can't have, prints
    one clear message and exits 1."""
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None

    from bot.runner import run
    from storage.errors import SchemaTooNew, StoreLocked

    try:
        run(settings)
    except (StoreLocked, SchemaTooNew) as exc:
        print(f"socialpost can't start: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
