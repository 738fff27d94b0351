-- 0003: the trust engine (docs/trust.md). A signal may now be about a user alone (every agent of
-- that user), so trust_signals.device_id becomes optional. Scores are kept per device
-- (user_name '') and per agent; certificates held by the engine are marked so that recovery
-- releases only those, never an administrator's hold.
ALTER TABLE trust_signals ALTER COLUMN device_id DROP NOT NULL;
ALTER TABLE trust_signals ADD CONSTRAINT trust_signals_target
    CHECK (device_id IS NOT NULL OR user_name IS NOT NULL);
CREATE INDEX trust_signals_user ON trust_signals (user_name, id) WHERE user_name IS NOT NULL;

CREATE TABLE trust_scores (
    device_id   TEXT COLLATE "C" NOT NULL,
    user_name   TEXT COLLATE "C" NOT NULL,  -- '' for the device's own score
    score       BIGINT NOT NULL CHECK (score BETWEEN 0 AND 100),
    held        BIGINT NOT NULL CHECK (held IN (0, 1)),
    explanation TEXT NOT NULL,              -- JSON: the contributions (docs/trust.md)
    computed_at BIGINT NOT NULL,
    next_change BIGINT,                     -- an expiry or staleness may change it then
    PRIMARY KEY (device_id, user_name)
);
CREATE INDEX trust_scores_next ON trust_scores (next_change) WHERE next_change IS NOT NULL;

ALTER TABLE certificates ADD COLUMN held_by_trust BIGINT NOT NULL DEFAULT 0;
