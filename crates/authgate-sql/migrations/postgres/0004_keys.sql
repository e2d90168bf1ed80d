-- 4: the server's signing keys, per tenant. Private keys are sealed (AES-256-GCM) by the
-- engine before they reach this table; (tenant, alg, generation) is unique, so of several
-- servers creating the same next key exactly one succeeds.
CREATE TABLE authgate_keys (
    tenant TEXT NOT NULL DEFAULT '',
    kid TEXT NOT NULL,
    alg TEXT NOT NULL,
    generation BIGINT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, kid),
    UNIQUE (tenant, alg, generation)
);
