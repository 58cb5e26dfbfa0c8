-- Incident observables are unique per (incident, kind, value). That constraint's
-- index was ordered by incident, and a second index (value, incident_id) served
-- lookups by value. Intake copies every linked alert's observables onto its
-- incident, so both indexes took a random-order insert per new observable, and
-- each batch rewrote most of their pages. The constraint is now ordered by value
-- (it serves correlation's lookup and the search filter itself), and the
-- incident's list is an index on incident_id, which new rows of one incident
-- append to. SQLite cannot change a table's constraint in place: the table is
-- rebuilt (nothing references it).
CREATE TABLE incident_observables_next (
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
    UNIQUE (value, kind, incident_id)
);
INSERT INTO incident_observables_next
    (id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at)
    SELECT id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at
    FROM incident_observables;
DROP TABLE incident_observables;
ALTER TABLE incident_observables_next RENAME TO incident_observables;
CREATE INDEX incident_observables_incident ON incident_observables(incident_id);
