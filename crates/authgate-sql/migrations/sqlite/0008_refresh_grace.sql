-- 8: a rotated refresh token keeps its successors sealed for the refresh grace window
-- (ServerConfig::refresh_token_grace_seconds): encrypted under a key that only the rotated
-- token itself yields, so a dump of this table reveals nothing. NULL when no window is set.
ALTER TABLE authgate_tokens ADD COLUMN successors BLOB;
