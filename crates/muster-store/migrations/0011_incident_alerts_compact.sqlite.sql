-- Links between incidents and alerts, kept in their primary key's b-tree
-- (WITHOUT ROWID). As a rowid table each link was stored twice: once in the
-- table (~150 bytes: two ids and the reason) and once more in the automatic
-- index of its (incident_id, alert_id) key (~110 bytes). Intake links every
-- correlated alert, so each one cost ~260 bytes written to the WAL and again
-- to the database; now ~150. PostgreSQL keeps its heap and key index.
CREATE TABLE incident_alerts_compact (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    alert_id    TEXT NOT NULL REFERENCES alerts(id),
    reason      TEXT,
    PRIMARY KEY (incident_id, alert_id)
) WITHOUT ROWID;
INSERT INTO incident_alerts_compact (incident_id, alert_id, reason)
    SELECT incident_id, alert_id, reason FROM incident_alerts;
DROP TABLE incident_alerts;
ALTER TABLE incident_alerts_compact RENAME TO incident_alerts;
