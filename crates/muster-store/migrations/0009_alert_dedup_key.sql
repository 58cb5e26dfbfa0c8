-- The dedup lookup keyed by the first 16 hex digits (64 bits) of the
-- fingerprint alone. Fingerprints are uniformly random, so each batch of new
-- alerts inserts its index entries all over the index; with the full key
-- (organisation id, 64-digit fingerprint, last seen: ~120 bytes an entry)
-- a 5,000-alert batch dirtied thousands of index pages, which every commit
-- wrote to the WAL and again to the database. The prefix entry is ~30 bytes;
-- the store checks the whole fingerprint and the organisation on the row.
CREATE INDEX alerts_fingerprint_prefix ON alerts ((substr(fingerprint, 1, 16)));
DROP INDEX alerts_fingerprint;
