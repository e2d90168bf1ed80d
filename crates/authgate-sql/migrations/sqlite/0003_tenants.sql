-- 3: every row belongs to a tenant (one issuer's share of the database; '' is the default
-- tenant, which rows from before this migration join); codes and tokens gain a details
-- column (audience, authentication facts, claims: JSON, NULL when empty) and clients a
-- metadata column (further registered client metadata, JSON).
--
-- SQLite cannot change a primary key in place: clients, users and secrets are rebuilt.
ALTER TABLE authgate_tokens ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE authgate_tokens ADD COLUMN details TEXT;
ALTER TABLE authgate_codes ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE authgate_codes ADD COLUMN details TEXT;

CREATE TABLE authgate_clients_v3 (
    tenant TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL,
    secret_hash BLOB,
    client_name TEXT,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    response_types TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    metadata TEXT,
    PRIMARY KEY (tenant, client_id)
);
INSERT INTO authgate_clients_v3 (tenant, client_id, secret_hash, client_name, redirect_uris, grant_types, response_types, scope, auth_method)
    SELECT '', client_id, secret_hash, client_name, redirect_uris, grant_types, response_types, scope, auth_method FROM authgate_clients;
DROP TABLE authgate_clients;
ALTER TABLE authgate_clients_v3 RENAME TO authgate_clients;

CREATE TABLE authgate_users_v3 (
    tenant TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL,
    subject TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    claims TEXT NOT NULL,
    PRIMARY KEY (tenant, username),
    UNIQUE (tenant, subject)
);
INSERT INTO authgate_users_v3 (tenant, username, subject, password_hash, claims)
    SELECT '', username, subject, password_hash, claims FROM authgate_users;
DROP TABLE authgate_users;
ALTER TABLE authgate_users_v3 RENAME TO authgate_users;

CREATE TABLE authgate_secrets_v3 (
    tenant TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (tenant, name)
);
INSERT INTO authgate_secrets_v3 (tenant, name, value) SELECT '', name, value FROM authgate_secrets;
DROP TABLE authgate_secrets;
ALTER TABLE authgate_secrets_v3 RENAME TO authgate_secrets;
