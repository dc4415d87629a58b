-- Undo 0002_aggregate_tables. IF EXISTS so that this also cleans up after a failed `up`.
DROP TABLE IF EXISTS referrer_stats;
DROP TABLE IF EXISTS page_stats;
DROP TABLE IF EXISTS daily_stats;
