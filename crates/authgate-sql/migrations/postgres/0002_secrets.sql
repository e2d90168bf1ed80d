-- 2: named secrets every server on one database shares (the session key).
CREATE TABLE IF NOT EXISTS authgate_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
