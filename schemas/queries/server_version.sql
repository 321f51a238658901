-- The server's version (lrs doctor).
-- params: {}
SELECT version()
