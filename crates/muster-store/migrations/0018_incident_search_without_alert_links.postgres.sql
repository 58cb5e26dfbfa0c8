-- An incident's search document no longer takes its alert-link timeline entries
-- (kind 'alert'), and writing one refreshes nothing: each refresh aggregated the
-- incident's whole timeline, once per intake batch linking alerts to it. See the
-- SQLite text of this migration.
CREATE OR REPLACE FUNCTION muster_incident_search_refresh(iid TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_search_text (incident_id, doc)
        SELECT i.id, to_tsvector('simple', left(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT string_agg(t.text, ' ') FROM incident_timeline t
                         WHERE t.incident_id = i.id AND t.kind <> 'alert'), ''), 200000))
        FROM incidents i WHERE i.id = iid
    ON CONFLICT (incident_id) DO UPDATE SET doc = EXCLUDED.doc;
END
$$;

CREATE OR REPLACE FUNCTION muster_incident_search_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'incidents' THEN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM incident_search_text WHERE incident_id = OLD.id;
        ELSE
            PERFORM muster_incident_search_refresh(NEW.id);
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF OLD.kind <> 'alert' THEN
                PERFORM muster_incident_search_refresh(OLD.incident_id);
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF NEW.kind <> 'alert' THEN
                PERFORM muster_incident_search_refresh(NEW.incident_id);
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
