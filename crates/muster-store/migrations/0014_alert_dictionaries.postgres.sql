-- See 0014_alert_dictionaries.sqlite.sql; the one difference is the binary type's name.
CREATE TABLE alert_dictionaries (
    id         BIGINT PRIMARY KEY,
    trained_at BIGINT NOT NULL,
    samples    BIGINT NOT NULL,
    dict       BYTEA NOT NULL
);
