"""Names shared by the Block Kit builders, the handlers and the manifest: one place each."""

COMMAND = "/socialpost"

# Modals (callback_id) and their inputs (block_id == action_id).
NEW_POST_VIEW = "socialpost_new_post"
EDIT_VIEW = "socialpost_edit_post"
REGENERATE_VIEW = "socialpost_regenerate_post"
SCHEDULE_VIEW = "socialpost_schedule_post"
BRIEF = "brief"
PLATFORM = "platform"
TONE = "tone"
IMAGE_URL = "image_url"
THREAD = "thread"
DRAFT_TEXT = "draft_text"
FEEDBACK = "feedback"
POST_AT = "post_at"

# Buttons (action_id); their value is the post id (see `versioned` for a pending draft's).
APPROVE = "socialpost_approve"
REJECT = "socialpost_reject"
EDIT = "socialpost_edit"
REGENERATE = "socialpost_regenerate"
SUGGEST_CHANGES = "socialpost_suggest_changes"
RETRY = "socialpost_retry"
DISCARD = "socialpost_discard"
RETRY_JOB = "socialpost_retry_job"
MAKE_THREAD = "socialpost_make_thread"
SCHEDULE = "socialpost_schedule"
POST_NOW = "socialpost_post_now"
UNSCHEDULE = "socialpost_unschedule"
RETRY_NOW = "socialpost_retry_now"
REVIVE = "socialpost_revive"


_VERSION_MARK = ":v"


def versioned(post_id: str, version: int) -> str:
    """The value of a pending draft's button: the post, and the version the button shows."""
    return f"{post_id}{_VERSION_MARK}{version}"


def post_and_version(value: str) -> tuple[str, int | None]:
    """A button value read back: the post id and the version it showed (None: not said)."""
    post_id, mark, version = value.rpartition(_VERSION_MARK)
    if mark and post_id and version.isdigit():
        return post_id, int(version)
    return value, None
