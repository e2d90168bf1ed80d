-- 11: a changed or deleted client moves the count of migration 10 too, whoever writes
-- (a server, the CLI, another process on the same file): caches keep clients as well as
-- access tokens, and empty both when the count moves. A new client leaves it alone (a
-- cache never keeps "no such client"). SQLite drops a table's triggers with it: a later
-- migration that rebuilds authgate_clients (as 3 did) must create these again.
CREATE TRIGGER authgate_clients_changed AFTER UPDATE ON authgate_clients
BEGIN
    UPDATE authgate_token_changes SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER authgate_clients_deleted AFTER DELETE ON authgate_clients
BEGIN
    UPDATE authgate_token_changes SET n = n + 1 WHERE id = 1;
END;
