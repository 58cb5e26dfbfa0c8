-- Organisations, accounts, sessions, tokens, trust circles and the audit log.
-- Portable SQL: TEXT ids (UUID strings), BIGINT times (Unix milliseconds) and flags (0/1).

CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    country     TEXT,
    sectors     TEXT NOT NULL DEFAULT '[]',
    client_of   TEXT REFERENCES organisations(id),
    operator    BIGINT NOT NULL DEFAULT 0,
    tlp         TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT,
    org_id        TEXT NOT NULL REFERENCES organisations(id),
    role          TEXT NOT NULL,
    password_hash TEXT,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    password_set_at BIGINT,
    must_change_password BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX users_org ON users(org_id);

-- Further organisations a user (typically a coordinator) may act for.
CREATE TABLE memberships (
    user_id  TEXT NOT NULL REFERENCES users(id),
    org_id   TEXT NOT NULL REFERENCES organisations(id),
    role     TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    active_org  TEXT NOT NULL REFERENCES organisations(id),
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id),
    org_id       TEXT NOT NULL REFERENCES organisations(id),
    role         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_org ON api_tokens(org_id);

CREATE TABLE trust_circles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    owner_org   TEXT NOT NULL REFERENCES organisations(id),
    tlp         TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE circle_members (
    circle_id TEXT NOT NULL REFERENCES trust_circles(id),
    org_id    TEXT NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (circle_id, org_id)
);
CREATE INDEX circle_members_org ON circle_members(org_id);

-- Append-only, hash-chained. audit_head holds the last sequence number and hash so
-- that deleting the newest entries is detected too.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    org_id     TEXT,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
