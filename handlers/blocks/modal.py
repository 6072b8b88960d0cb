"""Modals: the new-post form, and reading its submitted values back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from handlers import ids
from services.platforms import PLATFORMS
from services.posts import BRIEF_MAX, IMAGE_URL_MAX, TONES

Block = dict[str, Any]
View = dict[str, Any]


def plain(text: str) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": text, "emoji": True}


def option(value: str, label: str, description: str | None = None) -> dict[str, Any]:
    """An option of a select or checkbox group."""
    built: dict[str, Any] = {"text": plain(label), "value": value}
    if description:
        built["description"] = plain(description)
    return built


def _platform_option(slug: str, dry_run: bool) -> dict[str, Any]:
    rules = PLATFORMS[slug]
    notes = []
    if rules.needs_image:
        notes.append("needs an image URL")
    if dry_run:
        notes.append("dry run")
    return option(slug, rules.name, ", ".join(notes) or None)


def new_post_modal(
    *,
    platforms: Sequence[str],
    dry_run_platforms: Sequence[str] = (),
    brief: str = "",
    origin_channel: str | None = None,
) -> View:
    """The form behind `/socialpost`: brief, platforms, tone, image URL."""
    brief_element: Block = {
        "type": "plain_text_input",
        "action_id": ids.BRIEF,
        "multiline": True,
        "max_length": BRIEF_MAX,
        "placeholder": plain("What should the post say? Who is it for? Any link to include?"),
    }
    if brief:
        brief_element["initial_value"] = brief[:BRIEF_MAX]
    options = [_platform_option(slug, slug in dry_run_platforms) for slug in platforms]
    platform_element: Block = {
        "type": "checkboxes",
        "action_id": ids.PLATFORM,
        "options": options,
    }
    if options:
        platform_element["initial_options"] = [options[0]]
    return {
        "type": "modal",
        "callback_id": ids.NEW_POST_VIEW,
        "title": plain("New social post"),
        "submit": plain("Draft it"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"channel": origin_channel}),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.BRIEF,
                "label": plain("Brief"),
                "element": brief_element,
            },
            {
                "type": "input",
                "block_id": ids.PLATFORM,
                "label": plain("Platforms"),
                "hint": plain("Each platform gets its own draft and its own approval card."),
                "element": platform_element,
            },
            {
                "type": "input",
                "block_id": ids.TONE,
                "optional": True,
                "label": plain("Tone"),
                "element": {
                    "type": "static_select",
                    "action_id": ids.TONE,
                    "placeholder": plain("Friendly (default)"),
                    "options": [option(value, label) for value, label in TONES.items()],
                },
            },
            {
                "type": "input",
                "block_id": ids.IMAGE_URL,
                "optional": True,
                "label": plain("Image URL"),
                "hint": plain("Required for Instagram: a public https link to the image."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.IMAGE_URL,
                    "max_length": IMAGE_URL_MAX,
                    "placeholder": plain("https://example.com/picture.jpg"),
                },
            },
        ],
    }


def _element_values(state: dict[str, Any], block_id: str) -> list[dict[str, Any]]:
    block = state.get(block_id)
    if not isinstance(block, dict):
        return []
    return [element for element in block.values() if isinstance(element, dict)]


def text_value(state: dict[str, Any], block_id: str) -> str:
    """The text typed into the input `block_id` ('' when empty or absent)."""
    for element in _element_values(state, block_id):
        value = element.get("value")
        if isinstance(value, str):
            return value
    return ""


def selected_values(state: dict[str, Any], block_id: str) -> list[str]:
    """The values chosen in a select, multi-select or checkbox group `block_id`."""
    chosen: list[str] = []
    for element in _element_values(state, block_id):
        options = element.get("selected_options")
        if isinstance(options, list):
            chosen += [o["value"] for o in options if isinstance(o, dict) and "value" in o]
        single = element.get("selected_option")
        if isinstance(single, dict) and "value" in single:
            chosen.append(single["value"])
        value = element.get("value")
        if isinstance(value, str) and value and "selected_options" not in element:
            chosen += [part.strip() for part in value.split(",") if part.strip()]
    return [str(value) for value in chosen]


def origin_channel(view: dict[str, Any]) -> str | None:
    """The channel `/socialpost` was typed in, kept in the modal's private_metadata."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return None
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return channel if isinstance(channel, str) else None
