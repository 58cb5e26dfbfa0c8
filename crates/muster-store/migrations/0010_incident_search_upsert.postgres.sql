-- The search document of an incident is written with an upsert. The delete-
-- then-insert of migration 6 failed with a unique violation when two
-- transactions refreshed the same incident at once (two intake batches
-- correlated into one incident): the second's delete found nothing to wait
-- for, then its insert met the first's committed row.
CREATE OR REPLACE FUNCTION muster_incident_search_refresh(iid TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_search_text (incident_id, doc)
        SELECT i.id, to_tsvector('simple', left(i.title || ' ' || i.description || ' ' ||
               COALESCE((SELECT string_agg(t.text, ' ') FROM incident_timeline t WHERE t.incident_id = i.id), ''), 200000))
        FROM incidents i WHERE i.id = iid
    ON CONFLICT (incident_id) DO UPDATE SET doc = EXCLUDED.doc;
END
$$;
