"""Modals: the new-post form, and reading its submitted values back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from handlers import ids
from services.approval import FEEDBACK_MAX
from services.models import Post
from services.platforms import PLATFORMS
from services.posts import BRIEF_MAX, IMAGE_URL_MAX, TONES

TEXT_INPUT_MAX = 3000

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
            *(_thread_choice() if "x" in platforms else []),
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


def _thread_choice() -> list[Block]:
    return [
        {
            "type": "input",
            "block_id": ids.THREAD,
            "optional": True,
            "label": plain("X thread"),
            "element": {
                "type": "checkboxes",
                "action_id": ids.THREAD,
                "options": [
                    option(
                        ids.THREAD,
                        "Post to X as a thread",
                        "Numbered posts of up to 280 characters, as a reply chain",
                    )
                ],
            },
        }
    ]


def _card_metadata(post: Post, channel: str | None, message_ts: str | None) -> str:
    # The version the modal was opened on: its submission changes nothing if that's gone.
    return json.dumps(
        {"post_id": post.id, "version": post.version, "channel": channel, "message_ts": message_ts}
    )


def edit_modal(post: Post, *, channel: str | None, message_ts: str | None) -> View:
    """The draft in a text box, to be published verbatim once approved."""
    name = PLATFORMS[post.platform].name
    if post.thread:
        hint = "Separate the posts of the thread with a line holding only ---."
    elif post.platform == "x":
        hint = "At most 280 characters as X counts them: links count 23, emoji 2."
    else:
        hint = f"At most {PLATFORMS[post.platform].limit} characters."
    return {
        "type": "modal",
        "callback_id": ids.EDIT_VIEW,
        "title": plain(f"Edit {name} post"[:24]),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": _card_metadata(post, channel, message_ts),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.DRAFT_TEXT,
                "label": plain("Post text"),
                "hint": plain(hint),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.DRAFT_TEXT,
                    "multiline": True,
                    "max_length": TEXT_INPUT_MAX,
                    "initial_value": (post.message or "")[:TEXT_INPUT_MAX],
                },
            }
        ],
    }


def regenerate_modal(post: Post, *, channel: str | None, message_ts: str | None) -> View:
    """Ask for a new version guided by feedback."""
    return {
        "type": "modal",
        "callback_id": ids.REGENERATE_VIEW,
        "title": plain("Suggest changes"),
        "submit": plain("Write a new one"),
        "close": plain("Cancel"),
        "private_metadata": _card_metadata(post, channel, message_ts),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.FEEDBACK,
                "optional": True,
                "label": plain("What should change?"),
                "hint": plain("For example: shorter, more playful, mention the date."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.FEEDBACK,
                    "multiline": True,
                    "max_length": FEEDBACK_MAX,
                },
            }
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
