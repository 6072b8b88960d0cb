"""Publishing: dry runs, the platforms' cool-down, and each platform's own settings.

The platforms' own variables (X_*, LINKEDIN_*, ...) are not declared here: each platform's
descriptor brings its settings model (`services/platforms/<slug>/`), and `load_settings`
validates one per registered platform.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bot.settings.base import AnyCase, AreaSettings
from services.platforms.base import DryRun


class PublishingSettings(AreaSettings):
    """SOCIALPOST_DRY_RUN, SOCIALPOST_PLATFORM_COOLDOWN."""

    dry_run: Annotated[DryRun, AnyCase] = Field(DryRun.AUTO, validation_alias="SOCIALPOST_DRY_RUN")
    platform_cooldown: float = Field(60.0, gt=0, validation_alias="SOCIALPOST_PLATFORM_COOLDOWN")
