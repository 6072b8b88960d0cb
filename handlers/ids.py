"""Names shared by the Block Kit builders, the handlers and the manifest: one place each."""

COMMAND = "/socialpost"

# Modals (callback_id) and their inputs (block_id == action_id).
NEW_POST_VIEW = "socialpost_new_post"
EDIT_VIEW = "socialpost_edit_post"
REGENERATE_VIEW = "socialpost_regenerate_post"
BRIEF = "brief"
PLATFORM = "platform"
TONE = "tone"
IMAGE_URL = "image_url"
THREAD = "thread"
DRAFT_TEXT = "draft_text"
FEEDBACK = "feedback"

# Buttons (action_id); their value is the post id.
APPROVE = "socialpost_approve"
REJECT = "socialpost_reject"
EDIT = "socialpost_edit"
REGENERATE = "socialpost_regenerate"
SUGGEST_CHANGES = "socialpost_suggest_changes"
RETRY = "socialpost_retry"
DISCARD = "socialpost_discard"
RETRY_JOB = "socialpost_retry_job"
MAKE_THREAD = "socialpost_make_thread"
