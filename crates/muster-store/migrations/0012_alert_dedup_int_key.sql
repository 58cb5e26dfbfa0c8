-- The dedup lookup keyed by a 32-bit integer taken from the fingerprint (its
-- first 8 hex digits; see `alerts::dedup_key`), filled in by the store: the
-- migration runner computes it for the rows already stored, in this
-- migration's transaction. Fingerprints are uniformly random, so each batch of
-- new alerts inserts its entries all over this index and the commit writes
-- nearly every index page to the WAL (and the checkpoint writes them again).
-- A 16-digit text prefix took ~27 bytes an entry; the integer takes ~13, so
-- half the pages; and comparing integers is cheaper than evaluating
-- `substr` and comparing text on every insert. The whole fingerprint and the
-- organisation are still checked on the row.
ALTER TABLE alerts ADD COLUMN dedup_key INTEGER;
CREATE INDEX alerts_dedup_key ON alerts(dedup_key);
DROP INDEX alerts_fingerprint_prefix;
