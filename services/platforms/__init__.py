"""The platform registry: every platform the bot can post to, one descriptor each.

A platform lives in its own folder, `services/platforms/<slug>/`, whose `__init__.py` defines
`PLATFORM`, a `PlatformSpec` (see `services.platforms.base`): its rules, capabilities,
settings and publisher. `REGISTERED` below names the folders, in the order the modal offers
them. Adding a platform is that folder plus its slug in `REGISTERED`, and nothing else: the
modal, the card, the help text, the settings, the publishers, the prompts (`prompts/platform.md`
when it has no prompt of its own) and the `social_platforms` rows (synced at start-up) all
read `PLATFORMS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any

import aiohttp

from services.platforms.base import (
    DryRun,
    Measurement,
    PlatformSettings,
    PlatformSpec,
    Publisher,
)
from services.platforms.budget import off_loop
from services.platforms.dry_run import DryRunPublisher

REGISTERED = ("x", "linkedin", "instagram")


def _load(slugs: tuple[str, ...]) -> dict[str, PlatformSpec[Any]]:
    specs: dict[str, PlatformSpec[Any]] = {}
    for slug in slugs:
        spec = getattr(import_module(f"{__name__}.{slug}"), "PLATFORM", None)
        if not isinstance(spec, PlatformSpec) or spec.slug != slug:
            raise TypeError(f"services/platforms/{slug}/ must define PLATFORM with slug {slug!r}")
        specs[slug] = spec
    return specs


PLATFORMS: dict[str, PlatformSpec[Any]] = _load(REGISTERED)
"""Every registered platform by slug, in `REGISTERED` order. Read at call time, never copied,
so a test may register a throwaway platform for its duration."""


def spec_for(slug: str) -> PlatformSpec[Any]:
    """The descriptor of the platform with this slug."""
    return PLATFORMS[slug]


def names() -> list[str]:
    """Every platform's name, in registry order ("X", "LinkedIn", ...)."""
    return [spec.name for spec in PLATFORMS.values()]


def makes_thread(slug: str, *, asked: bool, brief: str) -> bool:
    """Whether a new draft for `slug` is written as a thread: the platform can publish one, and
    the requester ticked the box or the brief asks for one."""
    threads = PLATFORMS[slug].threads
    return threads is not None and (asked or threads.asked_for(brief))


# --- measuring ------------------------------------------------------------------------------


def measure_draft(slug: str, text: str, *, thread: bool = False) -> Measurement:
    """A draft measured by its platform's rules; a thread part by part.

    Cached and bounded by each platform's own measuring: from the event loop, await
    `measure_draft_async` first, and this finds the answer.
    """
    spec = PLATFORMS[slug]
    if thread and spec.threads is not None:
        return spec.threads.measure(text)
    return spec.measure(text)


async def measure_draft_async(slug: str, text: str, *, thread: bool = False) -> Measurement:
    """`measure_draft`, computed off the event loop (and cached for it)."""
    return await off_loop(measure_draft, slug, text, thread=thread)


def thread_parts(slug: str, text: str) -> list[str]:
    """The posts a thread draft is published as (the whole text, for a platform without
    threads)."""
    threads = PLATFORMS[slug].threads
    return threads.split(text) if threads is not None else [text]


async def thread_parts_async(slug: str, text: str) -> list[str]:
    """`thread_parts`, computed off the event loop (and cached for it)."""
    return await off_loop(thread_parts, slug, text)


# --- which platforms, and how they publish --------------------------------------------------


def configured_platforms(settings: Mapping[str, PlatformSettings]) -> set[str]:
    """Slugs of the platforms whose credentials are all set."""
    return {slug for slug, values in settings.items() if values.configured}


def dry_run_platforms(settings: Mapping[str, PlatformSettings], dry_run: DryRun) -> set[str]:
    """Platforms whose publisher only pretends (SOCIALPOST_DRY_RUN)."""
    if dry_run == DryRun.TRUE:
        return set(PLATFORMS)
    if dry_run == DryRun.AUTO:
        return set(PLATFORMS) - configured_platforms(settings)
    return set()


def offered_platforms(settings: Mapping[str, PlatformSettings], dry_run: DryRun) -> list[str]:
    """Platforms the modal offers, in registry order: without credentials only when they are
    dry-run."""
    configured = configured_platforms(settings)
    return [slug for slug in PLATFORMS if dry_run != DryRun.FALSE or slug in configured]


def build_publishers(
    settings: Mapping[str, PlatformSettings],
    dry_run: DryRun,
    session: aiohttp.ClientSession,
) -> dict[str, Publisher]:
    """One publisher per offered platform, all on the one shared `session`: the platform's
    own, or the dry-run stand-in."""
    dry = dry_run_platforms(settings, dry_run)
    return {
        slug: DryRunPublisher(slug)
        if slug in dry
        else PLATFORMS[slug].build_publisher(settings[slug], session)
        for slug in offered_platforms(settings, dry_run)
    }


__all__ = [
    "PLATFORMS",
    "REGISTERED",
    "DryRun",
    "Measurement",
    "PlatformSettings",
    "PlatformSpec",
    "Publisher",
    "build_publishers",
    "configured_platforms",
    "dry_run_platforms",
    "makes_thread",
    "measure_draft",
    "measure_draft_async",
    "names",
    "offered_platforms",
    "spec_for",
    "thread_parts",
    "thread_parts_async",
]
