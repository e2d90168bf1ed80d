-- 3: every row belongs to a tenant (one issuer's share of the database; '' is the default
-- tenant, which rows from before this migration join); codes and tokens gain a details
-- column (audience, authentication facts, claims: JSON, NULL when empty) and clients a
-- metadata column (further registered client metadata, JSON).
ALTER TABLE authgate_tokens
    ADD COLUMN tenant TEXT NOT NULL DEFAULT '',
    ADD COLUMN details TEXT;
ALTER TABLE authgate_codes
    ADD COLUMN tenant TEXT NOT NULL DEFAULT '',
    ADD COLUMN details TEXT;
ALTER TABLE authgate_clients
    ADD COLUMN tenant TEXT NOT NULL DEFAULT '',
    ADD COLUMN metadata TEXT,
    DROP CONSTRAINT authgate_clients_pkey,
    ADD PRIMARY KEY (tenant, client_id);
ALTER TABLE authgate_users
    ADD COLUMN tenant TEXT NOT NULL DEFAULT '',
    DROP CONSTRAINT authgate_users_pkey,
    DROP CONSTRAINT authgate_users_subject_key,
    ADD PRIMARY KEY (tenant, username),
    ADD CONSTRAINT authgate_users_tenant_subject_key UNIQUE (tenant, subject);
ALTER TABLE authgate_secrets
    ADD COLUMN tenant TEXT NOT NULL DEFAULT '',
    DROP CONSTRAINT authgate_secrets_pkey,
    ADD PRIMARY KEY (tenant, name);
