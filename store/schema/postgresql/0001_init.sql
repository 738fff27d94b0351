-- ztca store schema, version 1, PostgreSQL (13 or newer). Applied by store/store_migrate.c in
-- one transaction, under an advisory lock, together with its row in ztca_schema; never edit an
-- applied version, add the next one. The tables go into the first schema of search_path.
-- Times are BIGINT seconds since 1970-01-01 UTC; serials are lowercase hex TEXT; statuses are
-- small integers (store.h). Keys are COLLATE "C" so that keyset pagination orders bytes exactly
-- as SQLite does. The SQLite twin is schema/sqlite/0001_init.sql.

CREATE TABLE users (
    name       TEXT COLLATE "C" PRIMARY KEY,
    status     BIGINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id          TEXT COLLATE "C" PRIMARY KEY,
    ek_pub_hash BYTEA UNIQUE CHECK (ek_pub_hash IS NULL OR length(ek_pub_hash) = 32),
    ek_cert     BYTEA,
    ak_pub      BYTEA,
    facts       TEXT NOT NULL DEFAULT '{}',
    status      BIGINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE agents (
    device_id  TEXT COLLATE "C" NOT NULL REFERENCES devices (id),
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name),
    status     BIGINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (device_id, user_name)
);
CREATE INDEX agents_user ON agents (user_name);

-- The OCSP path reads one slim row by primary key; the DER lives in certificate_bodies so that
-- 10 million status rows stay small and cached. No foreign key to devices: offline issuance
-- (ztca issue) names devices that were never enrolled.
CREATE TABLE certificates (
    serial     TEXT COLLATE "C" PRIMARY KEY,
    device_id  TEXT COLLATE "C",
    user_name  TEXT COLLATE "C",
    profile    TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after  BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL,
    status     BIGINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    revoked_at BIGINT,
    reason     BIGINT
);
CREATE INDEX certificates_device ON certificates (device_id, serial) WHERE device_id IS NOT NULL;
CREATE INDEX certificates_expiry ON certificates (not_after, serial);
CREATE INDEX certificates_revoked ON certificates (serial) WHERE status <> 0;

-- Deleting a certificate (retention) deletes its body in the same statement.
CREATE TABLE certificate_bodies (
    serial TEXT COLLATE "C" PRIMARY KEY REFERENCES certificates (serial) ON DELETE CASCADE,
    der    BYTEA NOT NULL
);

-- Only the SHA-256 of a token is stored; used_at makes it single use.
CREATE TABLE tokens (
    hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    user_name  TEXT COLLATE "C",
    profile    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE enroll_sessions (
    id          TEXT COLLATE "C" PRIMARY KEY,
    token_hash  BYTEA NOT NULL REFERENCES tokens (hash) ON DELETE CASCADE,
    nonce       BYTEA NOT NULL,
    secret_hash BYTEA NOT NULL,
    data        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX enroll_sessions_expiry ON enroll_sessions (expires_at);
CREATE INDEX enroll_sessions_token ON enroll_sessions (token_hash);

CREATE TABLE trust_signals (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id  TEXT COLLATE "C" NOT NULL REFERENCES devices (id),
    user_name  TEXT COLLATE "C",
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    impact     BIGINT NOT NULL CHECK (impact BETWEEN -100 AND 100),
    detail     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX trust_signals_device ON trust_signals (device_id, id);
CREATE INDEX trust_signals_expiry ON trust_signals (expires_at) WHERE expires_at IS NOT NULL;

-- Append-only, hash-chained (docs/store.md). seq has no gaps; chain_head records the newest
-- entry so that a truncated tail is detected too.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE FUNCTION ztca_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ztca_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ztca_audit_append_only();

-- Every status change, numbered in commit order: subscribers and read replicas follow it from
-- the last number they saw. Each insert NOTIFYs channel ztca_change (delivered on commit) with
-- the number as payload.
CREATE TABLE change_log (
    seq     BIGINT PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    BIGINT NOT NULL,
    subject TEXT NOT NULL,
    status  BIGINT NOT NULL,
    reason  BIGINT
);
CREATE INDEX change_log_at ON change_log (at);
CREATE FUNCTION ztca_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ztca_change', NEW.seq::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER change_log_notify AFTER INSERT ON change_log
    FOR EACH ROW EXECUTE FUNCTION ztca_change_notify();

-- One row: the newest audit entry and change number. Writers that append lock it first
-- (SELECT ... FOR UPDATE), which orders appends in commit order across nodes.
CREATE TABLE chain_head (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    audit_seq  BIGINT NOT NULL,
    audit_hash BYTEA NOT NULL,
    change_seq BIGINT NOT NULL
);
INSERT INTO chain_head (id, audit_seq, audit_hash, change_seq)
    VALUES (1, 0, decode(repeat('00', 32), 'hex'), 0);
