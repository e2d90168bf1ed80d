-- 11: a changed or deleted client moves the count of migration 10 too, whoever writes
-- (another instance's registration management, the CLI, a statement by hand): caches
-- keep clients as well as access tokens, and empty both when the count moves. A new
-- client leaves it alone (a cache never keeps "no such client").
CREATE CONSTRAINT TRIGGER authgate_clients_changed AFTER UPDATE OR DELETE ON authgate_clients
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION authgate_count_token_change();
