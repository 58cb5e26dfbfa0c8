-- PostgreSQL: stored generated columns and a tsvector table kept in sync by
-- triggers (a generated column cannot reach the timeline rows).
ALTER TABLE incidents ADD COLUMN severity_rank BIGINT GENERATED ALWAYS AS (
    CASE severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
                  WHEN 'critical' THEN 4 ELSE -1 END) STORED;
ALTER TABLE incidents ADD COLUMN status_rank BIGINT GENERATED ALWAYS AS (
    CASE status WHEN 'new' THEN 0 WHEN 'triage' THEN 1 WHEN 'in-progress' THEN 2 WHEN 'contained' THEN 3
                WHEN 'eradicated' THEN 4 WHEN 'recovered' THEN 5 WHEN 'closed' THEN 6 ELSE -1 END) STORED;
ALTER TABLE incidents ADD COLUMN audience TEXT GENERATED ALWAYS AS (
    CASE WHEN tlp IN ('TLP:CLEAR', 'TLP:GREEN') THEN '*' ELSE org_id END) STORED;

CREATE INDEX incidents_by_updated ON incidents(audience, updated_at, id);
CREATE INDEX incidents_by_detected ON incidents(audience, detected_at, id);
CREATE INDEX incidents_by_severity ON incidents(audience, severity_rank, id);
CREATE INDEX incidents_by_status ON incidents(audience, status_rank, id);
CREATE INDEX incidents_by_title ON incidents(audience, title, id);
CREATE INDEX incidents_by_assignee ON incidents(assignee_id, audience, updated_at, id);

CREATE TABLE incident_search_text (
    incident_id TEXT PRIMARY KEY,
    doc         tsvector NOT NULL
);
CREATE INDEX incident_search_text_doc ON incident_search_text USING GIN (doc);

CREATE FUNCTION muster_incident_search_refresh(iid TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM incident_search_text WHERE incident_id = iid;
    INSERT INTO incident_search_text (incident_id, doc)
        SELECT i.id, to_tsvector('simple', left(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT string_agg(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = i.id), ''), 200000))
        FROM incidents i WHERE i.id = iid;
END
$$;

CREATE FUNCTION muster_incident_search_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'incidents' THEN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM incident_search_text WHERE incident_id = OLD.id;
        ELSE
            PERFORM muster_incident_search_refresh(NEW.id);
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM muster_incident_search_refresh(OLD.incident_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM muster_incident_search_refresh(NEW.incident_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER incident_search_incidents AFTER INSERT OR DELETE OR UPDATE OF title, description ON incidents
    FOR EACH ROW EXECUTE FUNCTION muster_incident_search_trigger();
CREATE TRIGGER incident_search_timeline AFTER INSERT OR UPDATE OR DELETE ON incident_timeline
    FOR EACH ROW EXECUTE FUNCTION muster_incident_search_trigger();

SELECT muster_incident_search_refresh(id) FROM incidents;
