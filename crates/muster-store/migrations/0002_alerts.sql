-- Normalised alerts from intake, deduplicated by fingerprint per organisation,
-- and the idempotency keys of acknowledged batches.

CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    fingerprint TEXT NOT NULL,
    format      TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_ref  TEXT,
    title       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    rsit_type   TEXT NOT NULL,
    tlp         TEXT NOT NULL,
    pap         TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'new',
    doc         TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX alerts_fingerprint ON alerts(org_id, fingerprint, last_seen);
CREATE INDEX alerts_recent ON alerts(org_id, last_seen, id);

CREATE TABLE intake_batches (
    org_id     TEXT NOT NULL REFERENCES organisations(id),
    batch_key  TEXT NOT NULL,
    result     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, batch_key)
);
