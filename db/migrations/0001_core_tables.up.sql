-- Core tables of the horizn_ analytics database: sites, sessions, raw hits and realtime presence.
--
-- Privacy: visitors are never stored in clear. IPs exist only as SHA-256 hashes (ip_hash, BINARY(32));
-- user_hash is sha256(daily salt, site, IP, user agent), which counts visitors without identifying them.
-- All times are UTC, DATETIME(3).
--
-- Foreign keys, and why only these:
--   sessions.site_id -> sites.id  : one indexed lookup per visit (not per hit) keeps sessions from
--                                   pointing at a site that does not exist; RESTRICT, so deleting a site
--                                   is an explicit cleanup job, never a surprise multi-million-row cascade.
--   pageviews, events             : none. Partitioned InnoDB tables can neither have nor be referenced by
--                                   foreign keys, and they are the high-volume insert path anyway.
--   realtime_visitors             : none. It is upserted on every hit and purged constantly; a parent-row
--                                   lock per hit would serialise against any update of the site row.
--
-- Partitioning: pageviews and events are partitioned by RANGE COLUMNS on a DATE column (`day`, which
-- must equal DATE(`timestamp`) and is part of the primary key, as partitioning requires). Daily
-- partitions are named pYYYYMMDD and hold rows with day = YYYY-MM-DD (the first one also holds any
-- older rows). `pmax` catches everything beyond the newest daily partition so that an insert never
-- fails when partition maintenance runs late; maintenance keeps pmax empty by splitting it ahead of
-- time (ALTER TABLE ... REORGANIZE PARTITION pmax INTO (...)), which is instant while pmax is empty.
-- Retention drops old daily partitions (ALTER TABLE ... DROP PARTITION pYYYYMMDD).
--
-- Index (site_id, timestamp) on pageviews is served by the left prefix of
-- (site_id, timestamp, page_path); a separate copy would only slow every insert.

CREATE TABLE sites (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  public_id CHAR(12) NOT NULL COMMENT 'id embedded in the tracking snippet',
  domain VARCHAR(253) NOT NULL,
  name VARCHAR(100) NOT NULL,
  timezone VARCHAR(64) NOT NULL DEFAULT 'UTC' COMMENT 'for display; stored times are UTC',
  is_public TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY sites_public_id (public_id),
  UNIQUE KEY sites_domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sessions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  site_id INT UNSIGNED NOT NULL,
  user_hash BINARY(32) NOT NULL COMMENT 'sha256(daily salt, site, ip, user agent)',
  ip_hash BINARY(32) NOT NULL COMMENT 'sha256 of the client IP; the IP itself is never stored',
  started_at DATETIME(3) NOT NULL,
  ended_at DATETIME(3) NOT NULL,
  pageview_count SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  duration_s INT UNSIGNED NOT NULL DEFAULT 0,
  entry_page VARCHAR(512) NOT NULL,
  exit_page VARCHAR(512) NOT NULL,
  referrer_host VARCHAR(253) NOT NULL DEFAULT '' COMMENT 'empty = direct',
  utm_source VARCHAR(100) NULL,
  utm_medium VARCHAR(100) NULL,
  utm_campaign VARCHAR(100) NULL,
  country CHAR(2) NULL COMMENT 'ISO 3166-1 alpha-2 from GeoIP at ingest',
  device ENUM('desktop','mobile','tablet','other') NOT NULL DEFAULT 'other',
  browser VARCHAR(32) NOT NULL DEFAULT '',
  os VARCHAR(32) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY sessions_site_started (site_id, started_at),
  KEY sessions_user_hash (user_hash),
  CONSTRAINT sessions_site_fk FOREIGN KEY (site_id) REFERENCES sites (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE pageviews (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  day DATE NOT NULL COMMENT 'partition key, = DATE(timestamp)',
  site_id INT UNSIGNED NOT NULL,
  session_id BIGINT UNSIGNED NOT NULL,
  `timestamp` DATETIME(3) NOT NULL,
  page_path VARCHAR(512) NOT NULL,
  page_title VARCHAR(255) NOT NULL DEFAULT '',
  time_on_page_ms INT UNSIGNED NULL COMMENT 'NULL for the last page of a session',
  is_entry TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (id, day),
  KEY pageviews_site_time_path (site_id, `timestamp`, page_path),
  KEY pageviews_session (session_id),
  CONSTRAINT pageviews_day_matches CHECK (day = CAST(`timestamp` AS DATE))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
PARTITION BY RANGE COLUMNS (day) (
  PARTITION pmax VALUES LESS THAN (MAXVALUE)
);

CREATE TABLE events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  day DATE NOT NULL COMMENT 'partition key, = DATE(timestamp)',
  site_id INT UNSIGNED NOT NULL,
  session_id BIGINT UNSIGNED NOT NULL,
  `timestamp` DATETIME(3) NOT NULL,
  event_name VARCHAR(64) NOT NULL,
  page_path VARCHAR(512) NOT NULL DEFAULT '',
  properties JSON NULL COMMENT 'custom event properties; never personal data',
  PRIMARY KEY (id, day),
  KEY events_site_name_time (site_id, event_name, `timestamp`),
  KEY events_site_time (site_id, `timestamp`),
  KEY events_session (session_id),
  CONSTRAINT events_day_matches CHECK (day = CAST(`timestamp` AS DATE))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
PARTITION BY RANGE COLUMNS (day) (
  PARTITION pmax VALUES LESS THAN (MAXVALUE)
);

CREATE TABLE realtime_visitors (
  site_id INT UNSIGNED NOT NULL,
  user_hash BINARY(32) NOT NULL,
  session_id BIGINT UNSIGNED NOT NULL,
  page_path VARCHAR(512) NOT NULL,
  country CHAR(2) NULL,
  device ENUM('desktop','mobile','tablet','other') NOT NULL DEFAULT 'other',
  last_seen_at DATETIME(3) NOT NULL,
  PRIMARY KEY (site_id, user_hash),
  KEY realtime_site_seen (site_id, last_seen_at),
  KEY realtime_seen (last_seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
