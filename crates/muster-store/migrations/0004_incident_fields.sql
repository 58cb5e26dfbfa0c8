-- Incident fields the triage work needs: who owns it, the NIS root cause,
-- when it was reported; and why an alert was linked (correlation rule and
-- shared value, or NULL when an analyst linked it by hand).

ALTER TABLE incidents ADD COLUMN reported_at BIGINT;
ALTER TABLE incidents ADD COLUMN nis_root_cause TEXT;
ALTER TABLE incidents ADD COLUMN assignee_id TEXT REFERENCES users(id);
CREATE INDEX incidents_assignee ON incidents(org_id, assignee_id);

ALTER TABLE incident_alerts ADD COLUMN reason TEXT;

-- The observables of an incident: copied from the alerts it links, or added
-- by an analyst. One row per (kind, value); flags and markings are per row.
CREATE TABLE incident_observables (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    ioc         BIGINT NOT NULL DEFAULT 0,
    sighted     BIGINT NOT NULL DEFAULT 0,
    tlp         TEXT NOT NULL,
    pap         TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (incident_id, kind, value)
);
CREATE INDEX incident_observables_value ON incident_observables(org_id, value);
