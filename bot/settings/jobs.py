"""The retry table's worker: attempts, backoff, leases, shutdown."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from bot.settings.base import AreaSettings
from services.errors import ConfigurationProblems


class JobSettings(AreaSettings):
    """SOCIALPOST_RETRY_*, SOCIALPOST_JOB_LEASE, SOCIALPOST_SHUTDOWN_GRACE."""

    retry_max_attempts: int = Field(5, ge=1, validation_alias="SOCIALPOST_RETRY_MAX_ATTEMPTS")
    retry_base_delay: float = Field(2.0, ge=0, validation_alias="SOCIALPOST_RETRY_BASE_DELAY")
    retry_max_delay: float = Field(300.0, ge=0, validation_alias="SOCIALPOST_RETRY_MAX_DELAY")
    job_lease: float = Field(30.0, gt=0, validation_alias="SOCIALPOST_JOB_LEASE")
    shutdown_grace: float = Field(10.0, ge=0, validation_alias="SOCIALPOST_SHUTDOWN_GRACE")

    @model_validator(mode="after")
    def _max_delay_above_base(self) -> Self:
        if self.retry_max_delay < self.retry_base_delay:
            raise ConfigurationProblems(
                [
                    "SOCIALPOST_RETRY_MAX_DELAY: must be at least SOCIALPOST_RETRY_BASE_DELAY "
                    f"({self.retry_base_delay:g})"
                ]
            )
        return self
