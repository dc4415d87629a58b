-- Aggregates the dashboard reads instead of scanning raw hits. Rebuilt per (site, day) by a batch job
-- with INSERT ... SELECT ... GROUP BY over pageviews/sessions/events, so they are always derivable.
--
-- Foreign keys: site_id -> sites.id ON DELETE CASCADE. Writes are a few thousand rows per day from a
-- batch job, so the check costs nothing on the insert path, and a deleted site's aggregates (small)
-- go with it.
--
-- Attribution: pageviews count by the pageview's day; sessions, visitors and bounces by the day the
-- session started; referrer_stats attributes a whole session (and its pageviews) to its referrer.

CREATE TABLE daily_stats (
  site_id INT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  pageviews INT UNSIGNED NOT NULL DEFAULT 0,
  visitors INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'distinct user_hash',
  sessions INT UNSIGNED NOT NULL DEFAULT 0,
  bounces INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'sessions with one pageview',
  total_duration_s BIGINT UNSIGNED NOT NULL DEFAULT 0,
  events INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, day),
  CONSTRAINT daily_stats_site_fk FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE page_stats (
  site_id INT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  page_path VARCHAR(512) NOT NULL,
  pageviews INT UNSIGNED NOT NULL DEFAULT 0,
  visitors INT UNSIGNED NOT NULL DEFAULT 0,
  entries INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'sessions that started on this page',
  total_time_on_page_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, day, page_path),
  CONSTRAINT page_stats_site_fk FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE referrer_stats (
  site_id INT UNSIGNED NOT NULL,
  day DATE NOT NULL,
  referrer_host VARCHAR(253) NOT NULL COMMENT 'empty = direct',
  sessions INT UNSIGNED NOT NULL DEFAULT 0,
  visitors INT UNSIGNED NOT NULL DEFAULT 0,
  pageviews INT UNSIGNED NOT NULL DEFAULT 0,
  bounces INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, day, referrer_host),
  CONSTRAINT referrer_stats_site_fk FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
