"""The links in a post, found the way X finds them: twitter-text's URL extraction.

X turns into a link whatever twitter-text's `extract_urls` finds, bare domains included
("example.net", "bit.ly/x"). This reuses the bounded, token-by-token extraction that X's
counter runs (`count.token_entities`), so a link is found here exactly when X would count it
as one.
"""

from __future__ import annotations

from services.platforms.budget import bounded
from services.platforms.x.count import token_entities, tokens


def _too_complex(text: str) -> tuple[str, ...] | None:
    return None


@bounded(maxsize=256, when_too_slow=_too_complex)
def find_links(text: str) -> tuple[str, ...] | None:
    """Every URL twitter-text finds in `text`, in order; None when the text is too complex to
    search in time."""
    found: list[str] = []
    for index, token in enumerate(tokens(text)):
        # Odd indexes are the runs of whitespace between tokens.
        if index % 2 or not token:
            continue
        entities = token_entities(token, first=index == 0)
        found += [token[span.start : span.end] for span in entities.urls]
    return tuple(found)
