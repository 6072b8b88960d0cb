"""Slack mrkdwn built by `handlers.blocks.markup`: outside text never becomes markup."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from handlers.blocks.markup import (
    Channel,
    Link,
    Mrkdwn,
    User,
    clip,
    escape,
    fit,
    join,
    lines_within,
    md,
)
from tests.support.slack_markup import HOSTILE, markup_problems

# Text rich in what mrkdwn reacts to, and in what must survive it.
markup_text = st.text(alphabet=st.sampled_from("<>&|!@#:*_~`a Z1\n;é😀"), max_size=60)


def test_values_are_escaped_and_the_template_is_kept() -> None:
    """Template markup stays; every value is escaped, numbers keep their format."""
    text = md("*{name}* wrote {count:,} words: {text}", name="<!here>", count=1200, text=HOSTILE)
    assert text == (
        "*&lt;!here&gt;* wrote 1,200 words: &lt;!channel&gt; &lt;!here&gt; &lt;@U1&gt; "
        "&lt;https://evil.example|bank login&gt; &lt;#C1&gt; &amp; more"
    )
    assert isinstance(text, Mrkdwn)


def test_the_bots_own_mentions_and_links_stay_markup() -> None:
    """User, Channel and Link render as mentions and links; mrkdwn isn't escaped twice."""
    inner = md("by {user}", user=User("U0123ABC"))
    text = md(
        "{inner} in {channel}: {link}",
        inner=inner,
        channel=Channel("C0APPROVALS"),
        link=Link("https://x.com/i/web/status/1?a=1&b=2", "View on X"),
    )
    assert text == (
        "by <@U0123ABC> in <#C0APPROVALS>: <https://x.com/i/web/status/1?a=1&amp;b=2|View on X>"
    )


def test_references_that_are_not_ids_show_as_text() -> None:
    """A user or channel "id" that isn't one, or a URL carrying markup, is shown as text."""
    assert md("{u}", u=User("<!channel>")) == "&lt;!channel&gt;"
    assert md("{u}", u=User(None)) == "someone"
    assert md("{c}", c=Channel("#general>")) == "#general&gt;"
    assert md("{link}", link=Link("https://evil.example|<!here>", "View")) == "View"
    assert md("{link}", link=Link("javascript:alert(1)", "View")) == "View"


@given(markup_text)
def test_no_outside_text_becomes_markup(value: str) -> None:
    """Whatever a value holds, the result has no markup, and shows the value unchanged."""
    text = md("Brief: {value} by {user}", value=value, user=User("U0REQ"))
    assert markup_problems(text, users={"U0REQ"}) == []
    assert html.unescape(text) == f"Brief: {value} by <@U0REQ>"


@given(st.lists(markup_text, max_size=8), st.integers(min_value=40, max_value=200))
def test_fit_cuts_between_whole_entities_and_says_so(values: list[str], limit: int) -> None:
    """`fit` keeps within the limit, never cuts inside an entity or a mention, and a cut text
    says how much is not shown."""
    text = join(" ", [md("{v} {u}", v=value, u=User("U0REQ")) for value in values])
    fitted = fit(text, limit)
    assert len(fitted) <= limit
    assert markup_problems(fitted, users={"U0REQ"}) == []
    if fitted != text:
        shown, note = fitted.rsplit("… (", 1)
        assert text.startswith(shown)
        assert note.endswith("more characters not shown)")


def test_clip_counts_what_it_leaves_out() -> None:
    """`clip` shows the start of outside text, escaped, and how many characters are left."""
    assert clip("<b>" * 10, 4) == "&lt;b&gt;&lt;… (26 more characters not shown)"
    assert clip("short", 10) == "short"


@given(
    st.lists(st.text(alphabet="ab<&", min_size=1, max_size=400), max_size=30),
    st.integers(min_value=0, max_value=20),
)
def test_lines_within_keeps_whole_lines_and_counts_the_rest(
    values: list[str], unlisted: int
) -> None:
    """Only whole lines are shown, within the limit, and the last line counts every line not
    shown (including ones never given)."""
    lines = [md("• {v}", v=value) for value in values]
    text = lines_within(
        md("*Title*"), lines, 3000, lambda n: md("…and {n} more", n=n), unlisted=unlisted
    )
    assert len(text) <= 3000
    shown = text.split("\n")[1:]
    hidden = len(lines) + unlisted
    if shown and shown[-1].startswith("…and "):
        hidden_said = int(shown.pop().removeprefix("…and ").removesuffix(" more"))
        assert hidden_said == len(lines) - len(shown) + unlisted
    else:
        assert hidden == len(shown)
    assert shown == lines[: len(shown)]


def test_escape_defuses_mentions() -> None:
    """`escape` turns the three characters Slack reads as markup into entities."""
    assert escape("<@U1> & <!channel>") == "&lt;@U1&gt; &amp; &lt;!channel&gt;"
