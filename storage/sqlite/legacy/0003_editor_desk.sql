-- The editor's desk: X threads, and publishing steps remembered as they happen (each part of
-- a thread, an Instagram media container) so a retry continues instead of starting over.
ALTER TABLE posts ADD COLUMN thread INTEGER NOT NULL DEFAULT 0;

CREATE TABLE publish_steps (
    post_id      TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    step         TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (post_id, step)
);
