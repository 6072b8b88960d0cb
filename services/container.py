"""The services the Slack layer may call, handed to every handler by one Bolt middleware."""

from __future__ import annotations

from dataclasses import dataclass

from services.approval import ApprovalService
from services.home import HomeService
from services.posts import PostService


@dataclass(frozen=True)
class Services:
    """Everything a handler may call; built once at start-up by `bot.runtime.Runtime`."""

    posts: PostService
    approval: ApprovalService
    home: HomeService
