"""The services the Slack layer may call, handed to every handler by one Bolt middleware."""

from __future__ import annotations

from dataclasses import dataclass

from services.decisions import Decisions
from services.editing import Editing
from services.ideas.runs import IdeaRuns
from services.intake import Intake
from services.overview import Overview
from services.scheduling.decisions import Scheduling


@dataclass(frozen=True)
class Services:
    """Everything a handler may call; built once at start-up by `bot.runtime.Runtime`."""

    intake: Intake
    decisions: Decisions
    editing: Editing
    overview: Overview
    ideas: IdeaRuns
    scheduling: Scheduling
