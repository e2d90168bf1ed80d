-- 5: OpenID Connect. Remembered consent, one row per (tenant, subject, client); login
-- sessions kept on the server, with the clients that were issued tokens in them (for
-- back-channel logout); and an index to find a user's tokens (consent revocation, user
-- removal) that only tokens issued for a user pay for.
CREATE TABLE authgate_consents (
    tenant TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, subject, client_id)
);
CREATE TABLE authgate_sessions (
    tenant TEXT NOT NULL DEFAULT '',
    sid TEXT NOT NULL,
    subject TEXT NOT NULL,
    username TEXT,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    acr TEXT,
    amr TEXT NOT NULL,
    clients TEXT NOT NULL,
    PRIMARY KEY (tenant, sid)
);
CREATE INDEX authgate_sessions_subject ON authgate_sessions (tenant, subject);
CREATE INDEX authgate_sessions_expires ON authgate_sessions (expires_at);
CREATE INDEX authgate_tokens_subject ON authgate_tokens (tenant, subject, client_id) WHERE subject IS NOT NULL;
