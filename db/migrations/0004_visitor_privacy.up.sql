-- 0004_visitor_privacy: visitor identifiers that can neither be linked across days nor reversed,
-- and session ids that cannot be enumerated.
--
-- The scheme (what the tracking path must do; the seed follows it too):
--   * Every UTC day has its own salt: 32 bytes from a CSPRNG, one row of visitor_salts. Only the
--     current and the previous day's salts exist; older ones are deleted (by `dbops daemon`'s
--     partition job, which also creates tomorrow's ahead of midnight). The application creates a
--     missing one with INSERT IGNORE INTO visitor_salts (day, salt) VALUES (UTC_DATE(), RANDOM_BYTES(32)).
--   * ip_hash   = HMAC-SHA-256(key = salt of the day, message = client IP as text)
--   * user_hash = HMAC-SHA-256(key = salt of the day, message = site_id '|' IP '|' user agent)
--     Once a day's salt is gone, nobody (we included) can recompute that day's hashes: the 2^32
--     IPv4 addresses can no longer be enumerated against them, and the same visitor on two days
--     has two unrelated hashes.
--   * sessions.id = 16 random bytes from a CSPRNG (not AUTO_INCREMENT: sequential ids can be
--     enumerated and count traffic).
--
-- Columns: VARBINARY(n) with CHECK (LENGTH(col) = n), not BINARY(n). BINARY pads a short value with
-- zero bytes before any CHECK sees it, so BINARY(32) accepted '1.2.3.4'; this way every stored value
-- is exactly n bytes and anything else is rejected.
--
-- Rows written before this migration: their ip_hash/user_hash were unsalted or under a fixed salt.
-- They are re-keyed here as SHA-256(k, day, old hash) and their session ids as the first 16 bytes of
-- SHA-256(k, old id), with k 32 random bytes that exist only while this migration runs (the table
-- dbops_rekey_0004, dropped at the end). Links between tables survive (the same old id maps to the
-- same new id everywhere); links across days and the way back do not. realtime_visitors only holds
-- the last minutes' presence and is emptied instead; the next hits fill it again.
--
-- sessions is clustered on (site_id, started_at, id), with a unique key on id: random ids as the
-- clustered key would put every new session on a random page of the table (measured with the seed
-- at 100 MB on a 32 MB buffer pool: load 17 s → 33 s, aggregates 10 s → 60 s), while new sessions
-- start now, at the end of their site's range. The old (site_id, started_at) index is that key's
-- prefix, so it goes.
--
-- Cost: pageviews and events are rebuilt (their session_id changes type); plan a maintenance window
-- in proportion to their size, and take the pre-migration backup `dbops migrate up` takes.

CREATE TABLE visitor_salts (
  day DATE NOT NULL COMMENT 'UTC day whose hashes this salt keys',
  salt VARBINARY(32) NOT NULL COMMENT '32 bytes from a CSPRNG; deleted after the next day',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (day),
  CONSTRAINT visitor_salts_salt_len CHECK (LENGTH(salt) = 32)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE dbops_rekey_0004 (k VARBINARY(32) NOT NULL) ENGINE=InnoDB;
INSERT INTO dbops_rekey_0004 (k) VALUES (RANDOM_BYTES(32));

ALTER TABLE sessions ADD COLUMN new_id VARBINARY(16) NULL AFTER id;
UPDATE sessions AS s, dbops_rekey_0004 AS r
   SET s.new_id = UNHEX(LEFT(SHA2(CONCAT(r.k, 's', s.id), 256), 32)),
       s.ip_hash = UNHEX(SHA2(CONCAT(r.k, 'i', CAST(s.started_at AS DATE), s.ip_hash), 256)),
       s.user_hash = UNHEX(SHA2(CONCAT(r.k, 'u', CAST(s.started_at AS DATE), s.user_hash), 256));
ALTER TABLE sessions
  DROP PRIMARY KEY,
  DROP COLUMN id,
  CHANGE new_id id VARBINARY(16) NOT NULL COMMENT '16 random bytes (CSPRNG)' FIRST,
  DROP INDEX sessions_site_started,
  ADD PRIMARY KEY (site_id, started_at, id),
  ADD UNIQUE KEY sessions_id (id),
  MODIFY user_hash VARBINARY(32) NOT NULL COMMENT 'HMAC-SHA-256(daily salt, site|ip|user agent)',
  MODIFY ip_hash VARBINARY(32) NOT NULL COMMENT 'HMAC-SHA-256(daily salt, ip); the IP itself is never stored',
  ADD CONSTRAINT sessions_id_len CHECK (LENGTH(id) = 16),
  ADD CONSTRAINT sessions_user_hash_len CHECK (LENGTH(user_hash) = 32),
  ADD CONSTRAINT sessions_ip_hash_len CHECK (LENGTH(ip_hash) = 32);

ALTER TABLE pageviews ADD COLUMN session_uid VARBINARY(16) NULL AFTER session_id;
UPDATE pageviews AS p, dbops_rekey_0004 AS r SET p.session_uid = UNHEX(LEFT(SHA2(CONCAT(r.k, 's', p.session_id), 256), 32));
ALTER TABLE pageviews
  DROP INDEX pageviews_session,
  DROP COLUMN session_id,
  CHANGE session_uid session_id VARBINARY(16) NOT NULL,
  ADD KEY pageviews_session (session_id),
  ADD CONSTRAINT pageviews_session_id_len CHECK (LENGTH(session_id) = 16);

ALTER TABLE events ADD COLUMN session_uid VARBINARY(16) NULL AFTER session_id;
UPDATE events AS e, dbops_rekey_0004 AS r SET e.session_uid = UNHEX(LEFT(SHA2(CONCAT(r.k, 's', e.session_id), 256), 32));
ALTER TABLE events
  DROP INDEX events_session,
  DROP COLUMN session_id,
  CHANGE session_uid session_id VARBINARY(16) NOT NULL,
  ADD KEY events_session (session_id),
  ADD CONSTRAINT events_session_id_len CHECK (LENGTH(session_id) = 16);

DELETE FROM realtime_visitors;
ALTER TABLE realtime_visitors
  MODIFY user_hash VARBINARY(32) NOT NULL,
  MODIFY session_id VARBINARY(16) NOT NULL,
  ADD CONSTRAINT realtime_visitors_user_hash_len CHECK (LENGTH(user_hash) = 32),
  ADD CONSTRAINT realtime_visitors_session_id_len CHECK (LENGTH(session_id) = 16);

DROP TABLE dbops_rekey_0004;
