-- ztca store schema, version 1, SQLite. Applied by store/store_migrate.c in one transaction
-- together with its row in ztca_schema; never edit an applied version, add the next one.
-- Times are INTEGER seconds since 1970-01-01 UTC; serials are lowercase hex TEXT; statuses are
-- small integers (store.h). The PostgreSQL twin is schema/postgresql/0001_init.sql.

CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    status     INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    ek_pub_hash BLOB UNIQUE CHECK (ek_pub_hash IS NULL OR length(ek_pub_hash) = 32),
    ek_cert     BLOB,
    ak_pub      BLOB,
    facts       TEXT NOT NULL DEFAULT '{}',
    status      INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE agents (
    device_id  TEXT NOT NULL REFERENCES devices (id),
    user_name  TEXT NOT NULL REFERENCES users (name),
    status     INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (device_id, user_name)
) WITHOUT ROWID;
CREATE INDEX agents_user ON agents (user_name);

-- The OCSP path reads one slim row by primary key; the DER lives in certificate_bodies so that
-- 10 million status rows stay small and cached. No foreign key to devices: offline issuance
-- (ztca issue) names devices that were never enrolled.
CREATE TABLE certificates (
    serial     TEXT PRIMARY KEY,
    device_id  TEXT,
    user_name  TEXT,
    profile    TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    status     INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    revoked_at INTEGER,
    reason     INTEGER
) WITHOUT ROWID;
CREATE INDEX certificates_device ON certificates (device_id, serial) WHERE device_id IS NOT NULL;
CREATE INDEX certificates_expiry ON certificates (not_after, serial);
CREATE INDEX certificates_revoked ON certificates (serial) WHERE status <> 0;

-- Deleting a certificate (retention) deletes its body in the same statement.
CREATE TABLE certificate_bodies (
    serial TEXT PRIMARY KEY REFERENCES certificates (serial) ON DELETE CASCADE,
    der    BLOB NOT NULL
);

-- Only the SHA-256 of a token is stored; used_at makes it single use.
CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY CHECK (length(hash) = 32),
    user_name  TEXT,
    profile    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE enroll_sessions (
    id          TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL REFERENCES tokens (hash) ON DELETE CASCADE,
    nonce       BLOB NOT NULL,
    secret_hash BLOB NOT NULL,
    data        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX enroll_sessions_expiry ON enroll_sessions (expires_at);
CREATE INDEX enroll_sessions_token ON enroll_sessions (token_hash);

CREATE TABLE trust_signals (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES devices (id),
    user_name  TEXT,
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    impact     INTEGER NOT NULL CHECK (impact BETWEEN -100 AND 100),
    detail     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX trust_signals_device ON trust_signals (device_id, id);
CREATE INDEX trust_signals_expiry ON trust_signals (expires_at) WHERE expires_at IS NOT NULL;

-- Append-only, hash-chained (docs/store.md). seq has no gaps; chain_head records the newest
-- entry so that a truncated tail is detected too.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Every status change, numbered in commit order: subscribers and read replicas follow it from
-- the last number they saw.
CREATE TABLE change_log (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    subject TEXT NOT NULL,
    status  INTEGER NOT NULL,
    reason  INTEGER
);
CREATE INDEX change_log_at ON change_log (at);

-- One row: the newest audit entry and change number. Writers that append lock it first.
CREATE TABLE chain_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    audit_seq  INTEGER NOT NULL,
    audit_hash BLOB NOT NULL,
    change_seq INTEGER NOT NULL
);
INSERT INTO chain_head (id, audit_seq, audit_hash, change_seq) VALUES (1, 0, zeroblob(32), 0);
