-- Incident search (portable part). The sort keys, the visibility key and the
-- full-text index are spelled per backend (migrate.rs, 0006_incident_search.*.sql):
--   severity_rank  info 0 < low 1 < medium 2 < high 3 < critical 4
--   status_rank    the lifecycle order, new 0 … closed 6
--   audience       '*' for TLP:CLEAR/GREEN (the community), else the owner org id,
--                  so "what a viewer may see" is two index ranges: '*' and its own org.
-- Each sort has an index (audience, key, id), so a filtered first page reads a
-- few index entries per branch instead of sorting every visible incident.

-- Observable filter across organisations (0004 indexes (org_id, value) only).
CREATE INDEX incident_observables_by_value ON incident_observables(value, incident_id);
