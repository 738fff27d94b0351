-- 0002: OIDC provisioners (workload certificates for CI jobs) and the replay cache of the ID
-- tokens they accepted.
CREATE TABLE provisioners (
    name       TEXT PRIMARY KEY,
    config     TEXT NOT NULL,   -- JSON, enroll_provisioner_write
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE oidc_replay (
    replay_key TEXT PRIMARY KEY CHECK (length(replay_key) = 64),
    until_at   BIGINT NOT NULL  -- the token would be accepted until then
);
CREATE INDEX oidc_replay_until ON oidc_replay (until_at);
