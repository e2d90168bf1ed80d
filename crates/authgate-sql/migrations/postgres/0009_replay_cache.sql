-- 9: one-time values already used (a client assertion's jti, RFC 7523 section 3), each
-- under a SHA-256 key, until it expires; the purger deletes expired rows.
CREATE TABLE authgate_replay (
    tenant TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX authgate_replay_expiry ON authgate_replay (expires_at);
