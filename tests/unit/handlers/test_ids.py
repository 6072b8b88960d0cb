"""Button values: a pending draft's buttons name the post and the version they show."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from handlers.ids import post_and_version, versioned


@given(post_id=st.text(min_size=1), version=st.integers(min_value=0, max_value=10**9))
def test_a_versioned_value_reads_back_as_its_post_and_version(post_id: str, version: int) -> None:
    """Whatever the post id, the value gives back that id and that version."""
    assert post_and_version(versioned(post_id, version)) == (post_id, version)


@given(st.uuids())
def test_a_bare_post_id_has_no_version(post_id: uuid.UUID) -> None:
    """A value from a card drawn before versions (a bare post id) says no version."""
    assert post_and_version(str(post_id)) == (str(post_id), None)


def test_values_that_only_look_versioned_are_bare_ids() -> None:
    """A mark without digits after it, or with nothing before it, is not a version."""
    assert post_and_version("post:v") == ("post:v", None)
    assert post_and_version(":v3") == (":v3", None)
    assert post_and_version("post:vx") == ("post:vx", None)
