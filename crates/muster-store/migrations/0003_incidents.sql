-- Incidents, the alerts they were opened from, and their timeline.

CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organisations(id),
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    resolution   TEXT,
    rsit_type    TEXT,
    tlp          TEXT NOT NULL,
    pap          TEXT NOT NULL,
    occurred_at  BIGINT,
    detected_at  BIGINT NOT NULL,
    contained_at BIGINT,
    closed_at    BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX incidents_recent ON incidents(org_id, updated_at, id);

CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    alert_id    TEXT NOT NULL REFERENCES alerts(id),
    PRIMARY KEY (incident_id, alert_id)
);

CREATE TABLE incident_timeline (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline(incident_id, at);
