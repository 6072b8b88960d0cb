"""Modals: the new-post form, and reading its submitted values back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers import ids
from handlers.blocks.card import MESSAGE_BLOCKS_MAX, context, draft_section, mrkdwn
from handlers.blocks.markup import Mrkdwn, md
from handlers.blocks.pieces import Piece, cut
from services.editing import FEEDBACK_MAX
from services.intake import BRIEF_MAX, IMAGE_URL_MAX, TONES
from services.models import Post
from services.platforms import PLATFORMS, PlatformSpec, spec_for, thread_parts

TEXT_INPUT_MAX = 3000
MODAL_BLOCKS_MAX = 100
PRIVATE_METADATA_MAX = 3000
# The line the thread splitter always cuts at: the edit modal joins a thread's posts with it.
THREAD_BREAK = "\n---\n"

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


def fits_prefill(text: str) -> bool:
    """Whether `/socialpost <text>` can open the form with all of `text` as the brief."""
    return len(text) <= TEXT_INPUT_MAX


def new_post_modal(
    *,
    platforms: Sequence[str],
    dry_run_platforms: Sequence[str] = (),
    brief: str = "",
    origin_channel: str | None = None,
) -> View:
    """The form behind `/socialpost`: brief, platforms, tone, image URL.

    A prefilled brief over the limit is shown whole with a notice, to be shortened in place
    (submitting it is refused until it fits); see `fits_prefill` for what can be shown.
    """
    brief_element: Block = {
        "type": "plain_text_input",
        "action_id": ids.BRIEF,
        "multiline": True,
        "max_length": BRIEF_MAX,
        "placeholder": plain("What should the post say? Who is it for? Any link to include?"),
    }
    notice: list[Block] = []
    if brief:
        brief_element["initial_value"] = brief
        if len(brief) > BRIEF_MAX:
            brief_element["max_length"] = min(len(brief), TEXT_INPUT_MAX)
            notice.append(mrkdwn(_brief_too_long(len(brief), "It is all below: shorten it")))
    offered = [PLATFORMS[slug] for slug in platforms]
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
            *notice,
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
            *_thread_choice(offered),
            {
                "type": "input",
                "block_id": ids.IMAGE_URL,
                "optional": True,
                "label": plain("Image URL"),
                "hint": plain(_image_hint(offered)),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.IMAGE_URL,
                    "max_length": IMAGE_URL_MAX,
                    "placeholder": plain("https://example.com/picture.jpg"),
                },
            },
            post_at_input(
                optional=True,
                hint="Leave empty to publish as soon as it is approved; an approver can "
                "still schedule it.",
            ),
        ],
    }


def _image_hint(offered: Sequence[PlatformSpec[Any]]) -> str:
    needing = [spec.name for spec in offered if spec.needs_image]
    if not needing:
        return "A public https link to the image."
    return f"Required for {' and '.join(needing)}: a public https link to the image."


def _brief_too_long(length: int, then: str) -> Mrkdwn:
    return md(
        ":warning: Your text is {length:,} characters; a brief can be at most {limit:,}. "
        "{then}, then draft it.",
        length=length,
        limit=BRIEF_MAX,
        then=then,
    )


def prefill_too_long(text: str) -> tuple[Mrkdwn, list[Block]]:
    """The private answer to `/socialpost <text>` with more text than the form can show: the
    form isn't opened, and the text comes back whole, to be shortened and sent again."""
    notice = _brief_too_long(len(text), "Here it is, nothing cut: shorten it and type /socialpost")
    sections = [
        draft_section(piece.text, f"text_{n}") for n, piece in enumerate(cut(text, TEXT_INPUT_MAX))
    ]
    budget = MESSAGE_BLOCKS_MAX - 2
    if len(sections) > budget:
        hidden = sum(len(s["text"]["text"]) for s in sections[budget:])
        more = md("… {count:,} more characters are not shown here.", count=hidden)
        sections = [*sections[:budget], context(more)]
    return notice, [mrkdwn(notice), *sections]


def _thread_choice(offered: Sequence[PlatformSpec[Any]]) -> list[Block]:
    """The thread checkbox, when an offered platform can publish threads (it applies to each
    chosen platform that can)."""
    capable = [spec for spec in offered if spec.threads is not None]
    if not capable:
        return []
    names = " / ".join(spec.name for spec in capable)
    limit = min(spec.limit for spec in capable)
    return [
        {
            "type": "input",
            "block_id": ids.THREAD,
            "optional": True,
            "label": plain(f"{names} thread"),
            "element": {
                "type": "checkboxes",
                "action_id": ids.THREAD,
                "options": [
                    option(
                        ids.THREAD,
                        f"Post to {names} as a thread",
                        f"Numbered posts of up to {limit} characters, as a reply chain",
                    )
                ],
            },
        }
    ]


def _card_metadata(post: Post, channel: str | None, message_ts: str | None, **extra: object) -> str:
    # The version the modal was opened on: its submission changes nothing if that's gone.
    return json.dumps(
        {
            "post_id": post.id,
            "version": post.version,
            "channel": channel,
            "message_ts": message_ts,
            **extra,
        }
    )


@dataclass(frozen=True)
class _Box:
    """One text box of the edit modal, and what joins its text to the next box's."""

    label: str
    text: str
    join: str


def _thread_boxes(post: Post) -> list[_Box]:
    """One box per post of the thread, without its number (added again when published)."""
    parts = thread_parts(post.platform, post.message or "")
    boxes: list[_Box] = []
    for number, part in enumerate(parts, 1):
        suffix = f" {number}/{len(parts)}"
        text = part.removesuffix(suffix) if len(parts) > 1 else part
        label = f"Post {number} of {len(parts)}" if len(parts) > 1 else "Post text"
        pieces = cut(text, TEXT_INPUT_MAX)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            boxes.append(
                _Box(
                    label if not index else f"{label} (continued)",
                    piece.text,
                    THREAD_BREAK if last else piece.gap,
                )
            )
    return boxes


def _text_boxes(message: str) -> list[_Box]:
    """The text in as many boxes as it needs, cut where it can be joined back exactly."""
    pieces = cut(message, TEXT_INPUT_MAX) or [Piece("")]
    if len(pieces) == 1:
        return [_Box("Post text", pieces[0].text, "")]
    return [
        _Box(f"Post text ({n} of {len(pieces)})", piece.text, piece.gap)
        for n, piece in enumerate(pieces, 1)
    ]


def _layouts(post: Post) -> list[tuple[list[_Box], bool]]:
    """Ways to put the draft in boxes, best first, each with whether it is a box per post: a
    thread post by post, else (or when that takes more than the modal holds) as one text."""
    message = post.message or ""
    layouts = [(_thread_boxes(post), True)] if post.thread else []
    return [*layouts, (_text_boxes(message), False)]


def _box_id(index: int) -> str:
    return ids.DRAFT_TEXT if index == 0 else f"{ids.DRAFT_TEXT}_{index + 1}"


def _edit_hint(post: Post, boxes: list[_Box], per_post: bool) -> str:
    spec = spec_for(post.platform)
    if per_post and len(boxes) > 1:
        return (
            f"One box per post; numbers are added when it is published. A post over {spec.limit} "
            "characters becomes two, a line holding only --- starts a new one, and an empty box "
            "drops its post."
        )
    if post.thread:
        hint = "Separate the posts of the thread with a line holding only ---."
    else:
        hint = " ".join(filter(None, (f"At most {spec.limit} characters", spec.counting))) + "."
    if len(boxes) > 1:
        hint += " The draft is longer than one box: it goes on from box to box."
    return hint


def _box_block(index: int, box: _Box, hint: str | None, *, several: bool) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": _box_id(index),
        "multiline": True,
        "max_length": TEXT_INPUT_MAX,
    }
    if box.text:
        element["initial_value"] = box.text
    block: Block = {
        "type": "input",
        "block_id": _box_id(index),
        "label": plain(box.label),
        "element": element,
    }
    if several:
        # Emptying a box drops its post of a thread (or its part of the text); a draft left
        # empty altogether is refused on submission.
        block["optional"] = True
    if hint:
        block["hint"] = plain(hint)
    return block


def edit_modal(post: Post, *, channel: str | None, message_ts: str | None) -> View:
    """The draft in text boxes, to be published verbatim once approved.

    Nothing is cut: a text longer than one box (3000 characters) continues in the next, and a
    thread gets a box per post; `edited_text` joins the boxes back. A draft longer than the
    whole modal holds opens a modal that says so instead.
    """
    name = spec_for(post.platform).name
    view: View = {
        "type": "modal",
        "callback_id": ids.EDIT_VIEW,
        "title": plain(f"Edit {name} post"[:24]),
        "close": plain("Cancel"),
    }
    for boxes, per_post in _layouts(post):
        joins = [box.join for box in boxes[:-1]]
        metadata = _card_metadata(post, channel, message_ts, joins=joins)
        if 0 < len(boxes) <= MODAL_BLOCKS_MAX and len(metadata) <= PRIVATE_METADATA_MAX:
            hint = _edit_hint(post, boxes, per_post)
            blocks = [
                _box_block(index, box, hint if index == 0 else None, several=len(boxes) > 1)
                for index, box in enumerate(boxes)
            ]
            return {**view, "submit": plain("Save"), "private_metadata": metadata, "blocks": blocks}
    too_long = md(
        "This draft is {length:,} characters: more than Slack's edit form can hold. "
        "Regenerate it with a shorter brief, or reject it.",
        length=len(post.message or ""),
    )
    return {
        **view,
        "close": plain("Close"),
        "private_metadata": _card_metadata(post, channel, message_ts),
        "blocks": [mrkdwn(too_long)],
    }


def edited_text(view: dict[str, Any]) -> str:
    """The text submitted in the edit modal: its boxes joined back the way they were cut."""
    values = (view.get("state") or {}).get("values") or {}
    box_ids = [
        str(block.get("block_id"))
        for block in view.get("blocks") or []
        if block.get("type") == "input"
        and str(block.get("block_id", "")).startswith(ids.DRAFT_TEXT)
    ] or [ids.DRAFT_TEXT]
    try:
        joins = json.loads(view.get("private_metadata") or "{}").get("joins") or []
    except (json.JSONDecodeError, AttributeError):
        joins = []
    text = text_value(values, box_ids[0])
    for index, box_id in enumerate(box_ids[1:]):
        join = joins[index] if index < len(joins) and isinstance(joins[index], str) else "\n"
        text += join + text_value(values, box_id)
    return text


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


def post_at_input(
    *, optional: bool, initial: datetime | None = None, hint: str | None = None
) -> Block:
    """The "Post at" input: one datetimepicker (Slack shows it in the reader's time zone)."""
    element: Block = {"type": "datetimepicker", "action_id": ids.POST_AT}
    if initial is not None:
        element["initial_date_time"] = int(initial.timestamp())
    block: Block = {
        "type": "input",
        "block_id": ids.POST_AT,
        "optional": optional,
        "label": plain("Post at"),
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def suggested_time(now: datetime, requested_for: datetime | None = None) -> datetime:
    """What the schedule form starts at: the requester's time while it is ahead, else the
    first whole hour at least ten minutes from now."""
    if requested_for is not None and requested_for > now:
        return requested_for
    soon = now.astimezone(UTC) + timedelta(minutes=10)
    return soon.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def schedule_modal(
    post: Post,
    *,
    channel: str | None,
    message_ts: str | None,
    now: datetime,
) -> View:
    """Schedule… : one "Post at" picker (starting at the requester's time while it is
    ahead); submitting approves the post for that time."""
    name = spec_for(post.platform).name
    return {
        "type": "modal",
        "callback_id": ids.SCHEDULE_VIEW,
        "title": plain(f"Schedule {name} post"[:24]),
        "submit": plain("Schedule"),
        "close": plain("Cancel"),
        "private_metadata": _card_metadata(post, channel, message_ts),
        "blocks": [
            post_at_input(
                optional=False,
                initial=suggested_time(now, post.requested_for),
                hint="Approves this version of the draft for that time.",
            )
        ],
    }


def datetime_value(state: dict[str, Any], block_id: str) -> datetime | None:
    """The moment chosen in the datetimepicker `block_id` (aware UTC; None when none)."""
    for element in _element_values(state, block_id):
        value = element.get("selected_date_time")
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None
