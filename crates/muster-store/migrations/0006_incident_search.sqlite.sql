-- SQLite: virtual generated columns (indexable, computed from the row, so every
-- writer keeps them right) and an FTS5 index kept in sync by triggers.
ALTER TABLE incidents ADD COLUMN severity_rank INTEGER GENERATED ALWAYS AS (
    CASE severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
                  WHEN 'critical' THEN 4 ELSE -1 END) VIRTUAL;
ALTER TABLE incidents ADD COLUMN status_rank INTEGER GENERATED ALWAYS AS (
    CASE status WHEN 'new' THEN 0 WHEN 'triage' THEN 1 WHEN 'in-progress' THEN 2 WHEN 'contained' THEN 3
                WHEN 'eradicated' THEN 4 WHEN 'recovered' THEN 5 WHEN 'closed' THEN 6 ELSE -1 END) VIRTUAL;
ALTER TABLE incidents ADD COLUMN audience TEXT GENERATED ALWAYS AS (
    CASE WHEN tlp IN ('TLP:CLEAR', 'TLP:GREEN') THEN '*' ELSE org_id END) VIRTUAL;

CREATE INDEX incidents_by_updated ON incidents(audience, updated_at, id);
CREATE INDEX incidents_by_detected ON incidents(audience, detected_at, id);
CREATE INDEX incidents_by_severity ON incidents(audience, severity_rank, id);
CREATE INDEX incidents_by_status ON incidents(audience, status_rank, id);
CREATE INDEX incidents_by_title ON incidents(audience, title, id);
CREATE INDEX incidents_by_assignee ON incidents(assignee_id, audience, updated_at, id);

-- One FTS5 document per incident: title, description and every timeline text.
-- Its rowid is a docid from this table (an INTEGER PRIMARY KEY survives VACUUM,
-- unlike the implicit rowid of `incidents`).
CREATE TABLE incident_search_docs (
    docid       INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE incident_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');

INSERT INTO incident_search_docs (incident_id) SELECT id FROM incidents;
INSERT INTO incident_fts (rowid, body)
    SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
           COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = i.id), ''), 1, 200000)
    FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id;

CREATE TRIGGER incident_search_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incident_search_docs (incident_id) VALUES (NEW.id);
    INSERT INTO incident_fts (rowid, body)
        SELECT docid, substr(NEW.title || ' ' || NEW.description, 1, 200000)
        FROM incident_search_docs WHERE incident_id = NEW.id;
END;

CREATE TRIGGER incident_search_update AFTER UPDATE OF title, description ON incidents BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = NEW.id);
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(NEW.title || ' ' || NEW.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = NEW.id), ''), 1, 200000)
        FROM incident_search_docs d WHERE d.incident_id = NEW.id;
END;

CREATE TRIGGER incident_search_delete AFTER DELETE ON incidents BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = OLD.id);
    DELETE FROM incident_search_docs WHERE incident_id = OLD.id;
END;

CREATE TRIGGER incident_search_timeline_insert AFTER INSERT ON incident_timeline BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = NEW.incident_id);
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = i.id), ''), 1, 200000)
        FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id WHERE i.id = NEW.incident_id;
END;

CREATE TRIGGER incident_search_timeline_update AFTER UPDATE ON incident_timeline BEGIN
    DELETE FROM incident_fts WHERE rowid IN
        (SELECT docid FROM incident_search_docs WHERE incident_id IN (OLD.incident_id, NEW.incident_id));
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = i.id), ''), 1, 200000)
        FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id
        WHERE i.id IN (OLD.incident_id, NEW.incident_id);
END;

CREATE TRIGGER incident_search_timeline_delete AFTER DELETE ON incident_timeline BEGIN
    DELETE FROM incident_fts WHERE rowid = (SELECT docid FROM incident_search_docs WHERE incident_id = OLD.incident_id);
    INSERT INTO incident_fts (rowid, body)
        SELECT d.docid, substr(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT group_concat(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = i.id), ''), 1, 200000)
        FROM incident_search_docs d JOIN incidents i ON i.id = d.incident_id WHERE i.id = OLD.incident_id;
END;
