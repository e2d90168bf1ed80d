-- 7: initial access tokens for dynamic client registration (RFC 7591 section 3), made by
-- `authgate registration token create`: kept as SHA-256 hashes, named by a short id for
-- listing and revocation. A revoked token stays as a row (revoked), so that the table
-- remembers tokens were ever required: revoking the last one does not open registration.
CREATE TABLE authgate_initial_access_tokens (
    tenant TEXT NOT NULL DEFAULT '',
    id TEXT NOT NULL,
    token_hash BYTEA NOT NULL,
    label TEXT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, token_hash)
);
