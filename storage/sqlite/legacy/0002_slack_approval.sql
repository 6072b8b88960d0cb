-- The Slack approval loop: who asked for what, where the card is, de-duplication,
-- the persistent retry table (outbox), the audit trail and the history of each draft.
ALTER TABLE posts ADD COLUMN requester TEXT;
ALTER TABLE posts ADD COLUMN brief TEXT;
ALTER TABLE posts ADD COLUMN tone TEXT;
ALTER TABLE posts ADD COLUMN image_url TEXT;
ALTER TABLE posts ADD COLUMN channel TEXT;
ALTER TABLE posts ADD COLUMN message_ts TEXT;
ALTER TABLE posts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE posts ADD COLUMN request_key TEXT;
ALTER TABLE posts ADD COLUMN llm_fallback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE posts ADD COLUMN external_url TEXT;
ALTER TABLE posts ADD COLUMN failure_reason TEXT;
ALTER TABLE posts ADD COLUMN edited_by TEXT;
ALTER TABLE posts ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX posts_request_key ON posts (request_key);
CREATE INDEX posts_status ON posts (status, updated_at);

CREATE TABLE post_versions (
    post_id     TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    message     TEXT NOT NULL,
    source      TEXT NOT NULL,
    author      TEXT,
    llm_provider TEXT,
    llm_model   TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (post_id, version)
);

CREATE TABLE retry_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    post_id          TEXT REFERENCES posts (id) ON DELETE CASCADE,
    payload          TEXT NOT NULL DEFAULT '{}',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    lease_until      REAL,
    last_error       TEXT,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'dead')),
    queue            TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- The worker's due-jobs query and the per-post serialisation check.
CREATE INDEX retry_jobs_due ON retry_jobs (status, next_attempt_at);
CREATE INDEX retry_jobs_post ON retry_jobs (post_id, kind, status);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    post_id     TEXT,
    outcome     TEXT NOT NULL,
    channel     TEXT,
    message_ts  TEXT,
    detail      TEXT
);

CREATE INDEX audit_log_post ON audit_log (post_id, at);
