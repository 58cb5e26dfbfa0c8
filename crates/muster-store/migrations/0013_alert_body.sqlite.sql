-- An alert's document and original record packed together in one zstd frame
-- (see `packing.rs`): ~650 bytes less per alert than the document as text
-- beside the compressed original. New rows leave `doc` empty and `original`
-- NULL; rows written before keep them and are read as they are.
ALTER TABLE alerts ADD COLUMN body BLOB;
