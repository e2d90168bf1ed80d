-- 1: clients, codes, tokens and users.
CREATE TABLE IF NOT EXISTS authgate_clients (
    client_id TEXT PRIMARY KEY,
    secret_hash BYTEA,
    client_name TEXT,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    response_types TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_method TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS authgate_codes (
    selector BYTEA PRIMARY KEY,
    verifier_hash BYTEA NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    username TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    nonce TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS authgate_codes_expires ON authgate_codes (expires_at);
CREATE TABLE IF NOT EXISTS authgate_tokens (
    selector BYTEA PRIMARY KEY,
    verifier_hash BYTEA NOT NULL,
    kind SMALLINT NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT,
    username TEXT,
    scope TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    family BYTEA NOT NULL,
    revoked BOOLEAN NOT NULL,
    rotated BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS authgate_tokens_family ON authgate_tokens (family);
CREATE INDEX IF NOT EXISTS authgate_tokens_expires ON authgate_tokens (expires_at);
CREATE TABLE IF NOT EXISTS authgate_users (
    username TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    claims TEXT NOT NULL
);
