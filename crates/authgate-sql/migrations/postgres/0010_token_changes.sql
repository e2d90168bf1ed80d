-- 10: a count that moves whenever a token is revoked, or a live token is deleted, whoever
-- writes (any instance, the CLI, a hand-written statement): token caches, which keep
-- access tokens only, empty when it moves. Rotation (refresh tokens) and the purge of
-- expired rows leave it alone.
--
-- The triggers are deferred to the commit, and count a transaction once however many
-- tokens it revokes: the counter's row lock is then the last lock any transaction takes,
-- so it cannot close a deadlock with the other tables a revocation touches.
CREATE TABLE authgate_token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO authgate_token_changes (id, n) VALUES (1, 0);
CREATE FUNCTION authgate_count_token_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('authgate.token_change_counted', true) IS DISTINCT FROM 'yes' THEN
        UPDATE authgate_token_changes SET n = n + 1 WHERE id = 1;
        PERFORM set_config('authgate.token_change_counted', 'yes', true);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER authgate_tokens_revoked AFTER UPDATE OF revoked ON authgate_tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.revoked AND NOT OLD.revoked)
    EXECUTE FUNCTION authgate_count_token_change();
CREATE CONSTRAINT TRIGGER authgate_tokens_deleted AFTER DELETE ON authgate_tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT OLD.revoked AND OLD.expires_at > extract(epoch FROM now()))
    EXECUTE FUNCTION authgate_count_token_change();
