"""The API's `PostsService` on the domain: the API's words mapped onto the intake's.

The body's fields become a `DraftRequest` (query -> brief, social_platform(s) -> platforms)
and the intake's refusals are named back by the API's field names, so a client reads
`{"fields": {"query": "..."}}` with the modal's own words.
"""

from __future__ import annotations

from datetime import UTC

from handlers.api.models import GenerateRequest, PostRef, PostView
from handlers.api.routes import Submission
from handlers.blocks.messages import post_at_problem
from services.api_intake import ApiIntake
from services.errors import InvalidRequest
from services.intake import DraftRequest
from services.scheduling.rules import PostAtProblem
from services.webhooks.view import view_of
from storage import Store


def _field_names(request: GenerateRequest) -> dict[str, str]:
    platforms = "social_platform" if request.social_platforms is None else "social_platforms"
    return {"brief": "query", "platforms": platforms}


def _words(field: str, message: str) -> str:
    """The intake's refusal of a field in words; a "Post at" problem comes as its code."""
    if field == "post_at" and message in set(PostAtProblem):
        return post_at_problem(PostAtProblem(message))
    return message


class DomainPosts:
    """`PostsService` on the API intake and the store."""

    def __init__(self, intake: ApiIntake, store: Store) -> None:
        self._intake = intake
        self._store = store

    async def generate(
        self, request: GenerateRequest, *, caller: str, idempotency_key: str | None
    ) -> Submission:
        """Draft the request's posts through the intake (or replay an earlier request)."""
        draft = DraftRequest(
            request_id="",
            requester="",
            brief=request.query,
            platforms=request.platforms(),
            tone=request.tone,
            image_url=request.image_url,
            requested_by=(request.requested_by or "").strip() or None,
            post_at=request.post_at.astimezone(UTC) if request.post_at is not None else None,
        )
        try:
            posts, replayed = await self._intake.submit(
                draft, caller=caller, idempotency_key=idempotency_key
            )
        except InvalidRequest as invalid:
            names = _field_names(request)
            raise InvalidRequest(
                {
                    names.get(field, field): _words(field, message)
                    for field, message in invalid.errors.items()
                }
            ) from None
        refs = [
            PostRef(id=post.id, platform=post.platform, status=post.status.value) for post in posts
        ]
        return Submission(refs, replayed=replayed)

    async def post(self, post_id: str) -> PostView | None:
        """The post with this id, if any."""
        post = await self._store.posts.get(post_id)
        return view_of(post) if post is not None else None
