-- SQLite: the filter keys of each incident beside its full-text document, so a
-- full-text search driven from its FTS5 matches can drop the rows the viewer
-- may not see (owner, TLP) or did not ask for (status, severity) in the narrow
-- `incident_search_docs` table, read in docid order as FTS5 returns them,
-- instead of looking every match up in `incidents` (three B-tree searches per
-- match, one of them into the wide rows). The copies are only a pre-filter:
-- the search still applies every condition to the incident row itself.
-- Triggers keep them right on every write; names end in `_key` so they never
-- clash with the incident's own columns in a join.
ALTER TABLE incident_search_docs ADD COLUMN org_key TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_search_docs ADD COLUMN tlp_key TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_search_docs ADD COLUMN status_key TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_search_docs ADD COLUMN severity_key TEXT NOT NULL DEFAULT '';

UPDATE incident_search_docs SET (org_key, tlp_key, status_key, severity_key) =
    (SELECT i.org_id, i.tlp, i.status, i.severity FROM incidents i WHERE i.id = incident_search_docs.incident_id);

DROP TRIGGER incident_search_insert;
CREATE TRIGGER incident_search_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incident_search_docs (incident_id, org_key, tlp_key, status_key, severity_key)
        VALUES (NEW.id, NEW.org_id, NEW.tlp, NEW.status, NEW.severity);
    INSERT INTO incident_fts (rowid, body)
        SELECT docid, substr(NEW.title || ' ' || NEW.description, 1, 200000)
        FROM incident_search_docs WHERE incident_id = NEW.id;
END;

CREATE TRIGGER incident_search_keys AFTER UPDATE OF org_id, tlp, status, severity ON incidents BEGIN
    UPDATE incident_search_docs
        SET org_key = NEW.org_id, tlp_key = NEW.tlp, status_key = NEW.status, severity_key = NEW.severity
        WHERE incident_id = NEW.id;
END;
