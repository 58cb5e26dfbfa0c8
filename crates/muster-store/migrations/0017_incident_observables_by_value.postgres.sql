-- Incident observables are unique per (incident, kind, value); the constraint's
-- index is now ordered by value, so it also serves lookups by value (correlation,
-- the search filter), and the separate (value, incident_id) index goes. The
-- incident's list gets an index on incident_id, which new rows of one incident
-- append to. One random-order index insert less per new observable; see the
-- SQLite text for why that matters to intake.
ALTER TABLE incident_observables DROP CONSTRAINT incident_observables_incident_id_kind_value_key;
ALTER TABLE incident_observables
    ADD CONSTRAINT incident_observables_value_kind_incident UNIQUE (value, kind, incident_id);
DROP INDEX incident_observables_by_value;
CREATE INDEX incident_observables_incident ON incident_observables(incident_id);
