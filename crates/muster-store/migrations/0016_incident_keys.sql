-- The grouping keys an incident keeps that are not observables: a detection
-- rule, a host, or a rule on a host (`muster-intake`'s correlation rules), one
-- row per key, written when correlation links an alert. A later batch finds
-- the open incident by them as it finds one by a shared observable; without
-- them, "same rule on the same host" grouped alerts of one batch only.
CREATE TABLE incident_keys (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (incident_id, kind, value)
);
CREATE INDEX incident_keys_by_value ON incident_keys(value, incident_id);
