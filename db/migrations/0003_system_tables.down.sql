-- Undo 0003_system_tables. IF EXISTS so that this also cleans up after a failed `up`.
DROP TABLE IF EXISTS settings;
DROP TABLE IF EXISTS users;
