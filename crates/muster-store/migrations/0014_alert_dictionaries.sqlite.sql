-- The zstd dictionaries alert bodies are packed with (see `dictionaries.rs`),
-- keyed by zstd's own dictionary id, which every frame packed with one names.
-- Kept for as long as the alerts: a body cannot be read without its dictionary.
CREATE TABLE alert_dictionaries (
    id         BIGINT PRIMARY KEY,
    trained_at BIGINT NOT NULL,
    samples    BIGINT NOT NULL,
    dict       BLOB NOT NULL
);
