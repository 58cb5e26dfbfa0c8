-- The work on an incident: tasks, analyst comments, evidence attachments
-- (content-addressed by SHA-256, the content stored once in the database so
-- it is committed, backed up and restored with the rest), and incident
-- templates per organisation.

CREATE TABLE incident_tasks (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    assignee_id TEXT REFERENCES users(id),
    due_date    TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX incident_tasks_incident ON incident_tasks(incident_id, created_at);

CREATE TABLE incident_comments (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX incident_comments_incident ON incident_comments(incident_id, created_at);

-- One row per distinct content; the bytes column is added per backend.
CREATE TABLE attachment_blobs (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE incident_attachments (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    sha256      TEXT NOT NULL REFERENCES attachment_blobs(sha256),
    filename    TEXT NOT NULL,
    size        BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX incident_attachments_incident ON incident_attachments(incident_id, created_at);

CREATE TABLE incident_templates (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    severity    TEXT NOT NULL,
    rsit_type   TEXT,
    tasks       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);
