-- 0003: the trust engine (docs/trust.md). A signal may now be about a user alone (every agent of
-- that user), so trust_signals.device_id becomes optional: SQLite rebuilds the table. Scores are
-- kept per device (user_name '') and per agent; certificates held by the engine are marked so
-- that recovery releases only those, never an administrator's hold.
CREATE TABLE trust_signals_0003 (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT REFERENCES devices (id),
    user_name  TEXT,
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    impact     INTEGER NOT NULL CHECK (impact BETWEEN -100 AND 100),
    detail     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    CHECK (device_id IS NOT NULL OR user_name IS NOT NULL)
);
INSERT INTO trust_signals_0003 SELECT id, device_id, user_name, source, kind, impact, detail,
    created_at, expires_at FROM trust_signals;
DROP TABLE trust_signals;
ALTER TABLE trust_signals_0003 RENAME TO trust_signals;
CREATE INDEX trust_signals_device ON trust_signals (device_id, id) WHERE device_id IS NOT NULL;
CREATE INDEX trust_signals_user ON trust_signals (user_name, id) WHERE user_name IS NOT NULL;
CREATE INDEX trust_signals_expiry ON trust_signals (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE trust_scores (
    device_id   TEXT NOT NULL,
    user_name   TEXT NOT NULL,      -- '' for the device's own score
    score       INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    held        INTEGER NOT NULL CHECK (held IN (0, 1)),
    explanation TEXT NOT NULL,      -- JSON: the contributions (docs/trust.md)
    computed_at INTEGER NOT NULL,
    next_change INTEGER,            -- an expiry or staleness may change it then (the sweep)
    PRIMARY KEY (device_id, user_name)
) WITHOUT ROWID;
CREATE INDEX trust_scores_next ON trust_scores (next_change) WHERE next_change IS NOT NULL;

ALTER TABLE certificates ADD COLUMN held_by_trust INTEGER NOT NULL DEFAULT 0;
