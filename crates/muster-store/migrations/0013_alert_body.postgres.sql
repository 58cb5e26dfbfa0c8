-- See 0013_alert_body.sqlite.sql; the one difference is the binary type's name.
ALTER TABLE alerts ADD COLUMN body BYTEA;
