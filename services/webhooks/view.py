"""The post as the outside world sees it: `GET /posts/{id}` and every webhook's `data`."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from services.api_intake import api_caller
from storage.models import Post, PostStatus


class PostView(BaseModel):
    """One post for programs: what it says, where it is in its life, and where it went."""

    id: str
    platform: str
    status: str
    message: str | None = Field(description="The current draft; null while the first is written.")
    url: str | None = Field(description="The post on the platform, once posted.")
    external_id: str | None = Field(description="The platform's id of the post, once posted.")
    requested_by: str | None = Field(
        description="Who asked: an API request's requested_by (else 'via API: <key name>'), "
        "or the Slack user id of whoever used /socialpost."
    )
    approved_by: str | None = Field(description="The Slack user who approved it, once approved.")
    scheduled_for: AwareDatetime | None = Field(
        description="When it is to be published, once scheduled."
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime


def requested_by(post: Post) -> str | None:
    """Who asked, as programs see it."""
    caller = api_caller(post.requester)
    if caller is None:
        return post.requester
    return post.requested_by or f"via API: {caller}"


def view_of(post: Post) -> PostView:
    """`post` as programs see it."""
    posted = post.status == PostStatus.POSTED
    return PostView(
        id=post.id,
        platform=post.platform,
        status=post.status.value,
        message=post.message,
        url=post.external_url if posted or post.external_id else None,
        external_id=post.external_id,
        requested_by=requested_by(post),
        approved_by=post.approved_by,
        scheduled_for=post.scheduled_for,
        created_at=post.created_at,
        updated_at=post.updated_at,
    )
