-- 10: a count that moves whenever a token is revoked, or a live token is deleted, whoever
-- writes (any instance, the CLI, a hand-written statement): token caches, which keep
-- access tokens only, empty when it moves. Revocations bump it once per statement, so
-- revoking many tokens at once costs one update here; the purge of expired rows leaves
-- it alone.
CREATE TABLE authgate_token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO authgate_token_changes (id, n) VALUES (1, 0);
CREATE FUNCTION authgate_count_token_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE authgate_token_changes SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER authgate_tokens_revoked AFTER UPDATE OF revoked ON authgate_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION authgate_count_token_change();
CREATE TRIGGER authgate_tokens_deleted AFTER DELETE ON authgate_tokens
    FOR EACH ROW WHEN (NOT OLD.revoked AND OLD.expires_at > extract(epoch FROM now()))
    EXECUTE FUNCTION authgate_count_token_change();
