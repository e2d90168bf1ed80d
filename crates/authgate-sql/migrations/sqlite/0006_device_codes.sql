-- 6: device authorization requests (RFC 8628). The device code is kept like a token
-- (selector + SHA-256 of the verifier), the user code as its SHA-256, unique per tenant so
-- that the verification page finds exactly one request. The status moves forwards only:
-- pending, approved or denied, redeemed.
CREATE TABLE authgate_device_codes (
    tenant TEXT NOT NULL DEFAULT '',
    selector BLOB NOT NULL,
    verifier_hash BLOB NOT NULL,
    user_code_hash BLOB NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    poll_interval INTEGER NOT NULL,
    last_polled_ms INTEGER,
    status TEXT NOT NULL,
    subject TEXT,
    username TEXT,
    details TEXT,
    PRIMARY KEY (tenant, selector),
    UNIQUE (tenant, user_code_hash)
);
CREATE INDEX authgate_device_codes_expires ON authgate_device_codes (expires_at);
