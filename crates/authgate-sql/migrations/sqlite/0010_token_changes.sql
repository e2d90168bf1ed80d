-- 10: a count that moves whenever a token is revoked, or a live token is deleted, whoever
-- writes (a server, the CLI, another process on the same file): token caches, which keep
-- access tokens only, empty when it moves. Rotation (refresh tokens) and the purge of
-- expired rows leave it alone.
CREATE TABLE authgate_token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO authgate_token_changes (id, n) VALUES (1, 0);
CREATE TRIGGER authgate_tokens_revoked AFTER UPDATE OF revoked ON authgate_tokens
    WHEN NEW.revoked <> OLD.revoked
BEGIN
    UPDATE authgate_token_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER authgate_tokens_deleted AFTER DELETE ON authgate_tokens
    WHEN OLD.revoked = 0 AND OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER)
BEGIN
    UPDATE authgate_token_changes SET n = n + 1 WHERE id = 1;
END;
