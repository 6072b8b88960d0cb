-- The data model of the original design notes: platforms and posts.
CREATE TABLE social_platforms (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    char_limit  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

INSERT INTO social_platforms (id, slug, name, char_limit, created_at, updated_at) VALUES
    ('7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0001', 'x', 'X', 280,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0002', 'linkedin', 'LinkedIn', 3000,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0003', 'instagram', 'Instagram', 2200,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

CREATE TABLE posts (
    id                  TEXT PRIMARY KEY,
    message             TEXT,
    status              TEXT NOT NULL,
    social_platform_id  TEXT NOT NULL REFERENCES social_platforms (id),
    external_id         TEXT,
    approved_at         TEXT,
    approved_by         TEXT,
    rejected_by         TEXT,
    approval_source     TEXT,
    llm_provider        TEXT,
    llm_model           TEXT,
    prompt              TEXT,
    raw_output          TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
