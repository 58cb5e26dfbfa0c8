-- An incident's search document no longer takes its alert-link timeline
-- entries (kind 'alert': "linked 5000 alerts (rule=…, shared=…)", written by
-- intake's correlation once per batch and reason). Every timeline insert rebuilt
-- the whole document from all the incident's entries, so an incident that intake
-- kept feeding cost each batch a scan of its whole timeline and a re-index of up
-- to 200,000 characters: intake slowed as incidents aged. Link entries now fire
-- no rebuild; what they name is searchable otherwise (the shared value is an
-- observable filter, the alerts are listed on the incident). Documents written
-- before keep their link text until the incident's next edit, note or status change.
DROP TRIGGER incident_search_update;
CREATE TRIGGER incident_search_update AFTER UPDATE OF title, description ON incidents BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = NEW.id);
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(NEW.title || ' ' || NEW.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t
                         WHERE t.incident_id = NEW.id AND t.kind <> 'alert'), ''), 1, 200000)
        FROM incident_search_docs d WHERE d.incident_id = NEW.id;
END;

DROP TRIGGER incident_search_timeline_insert;
CREATE TRIGGER incident_search_timeline_insert AFTER INSERT ON incident_timeline
WHEN NEW.kind <> 'alert' BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = NEW.incident_id);
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t
                         WHERE t.incident_id = i.id AND t.kind <> 'alert'), ''), 1, 200000)
        FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id WHERE i.id = NEW.incident_id;
END;

DROP TRIGGER incident_search_timeline_update;
CREATE TRIGGER incident_search_timeline_update AFTER UPDATE ON incident_timeline
WHEN OLD.kind <> 'alert' OR NEW.kind <> 'alert' BEGIN
    DELETE FROM incident_fts WHERE rowid IN
        (SELECT docid FROM incident_search_docs WHERE incident_id IN (OLD.incident_id, NEW.incident_id));
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t
                         WHERE t.incident_id = i.id AND t.kind <> 'alert'), ''), 1, 200000)
        FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id
        WHERE i.id IN (OLD.incident_id, NEW.incident_id);
END;

DROP TRIGGER incident_search_timeline_delete;
CREATE TRIGGER incident_search_timeline_delete AFTER DELETE ON incident_timeline
WHEN OLD.kind <> 'alert' BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = OLD.incident_id);
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t
                         WHERE t.incident_id = i.id AND t.kind <> 'alert'), ''), 1, 200000)
        FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id WHERE i.id = OLD.incident_id;
END;
