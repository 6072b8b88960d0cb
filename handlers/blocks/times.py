"""Times shown to people: Slack date tokens, so each reader sees their own time zone.

`<!date^EPOCH^{date_short_pretty} at {time}|fallback>` is rendered by Slack in the reader's
time zone ("Today at 2:30 PM", "Dec 3 at 9:00 AM"); the fallback is what clients that can't
render the token (notifications, some integrations) show instead: the moment in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.blocks.markup import Mrkdwn

DATE_FORMAT = "{date_short_pretty} at {time}"


def fallback(moment: datetime) -> str:
    """The moment in UTC, for a reader whose client can't render the token."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def slack_date(moment: datetime) -> Mrkdwn:
    """The Slack date token for an aware moment (a naive one is refused: stored times are
    aware UTC, and guessing a zone would show the wrong hour)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time shown to people must be aware (UTC)")
    epoch = int(moment.timestamp())
    return Mrkdwn(f"<!date^{epoch}^{DATE_FORMAT}|{fallback(moment)}>")
