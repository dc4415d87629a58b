-- Undo 0001_core_tables. IF EXISTS so that this also cleans up after an `up` that failed half-way.
-- Children before parents (sessions references sites).
DROP TABLE IF EXISTS realtime_visitors;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS pageviews;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS sites;
