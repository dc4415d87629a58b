-- Undo 0004_visitor_privacy's schema. Hashes are one-way: the re-keyed ip_hash/user_hash values stay
-- as they are (only their column type goes back). Session ids become sequential numbers again, in
-- the order sessions started, and pageviews/events follow them; a pageview or event whose session
-- no longer exists gets session_id 0. The daily salts are dropped.
DROP TABLE IF EXISTS dbops_rekey_0004;

DELETE FROM realtime_visitors;
ALTER TABLE realtime_visitors
  DROP CONSTRAINT realtime_visitors_user_hash_len,
  DROP CONSTRAINT realtime_visitors_session_id_len,
  MODIFY user_hash BINARY(32) NOT NULL,
  MODIFY session_id BIGINT UNSIGNED NOT NULL;

ALTER TABLE sessions ADD COLUMN old_id BIGINT UNSIGNED NULL AFTER id;
CREATE TABLE dbops_unkey_0004 (id VARBINARY(16) NOT NULL, seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, PRIMARY KEY (id), UNIQUE KEY (seq)) ENGINE=InnoDB;
INSERT INTO dbops_unkey_0004 (id) SELECT id FROM sessions ORDER BY started_at, id;
UPDATE sessions AS s JOIN dbops_unkey_0004 AS u ON u.id = s.id SET s.old_id = u.seq;

ALTER TABLE pageviews ADD COLUMN old_session_id BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER session_id;
UPDATE pageviews AS p JOIN dbops_unkey_0004 AS u ON u.id = p.session_id SET p.old_session_id = u.seq;
ALTER TABLE pageviews
  DROP CONSTRAINT pageviews_session_id_len,
  DROP INDEX pageviews_session,
  DROP COLUMN session_id,
  CHANGE old_session_id session_id BIGINT UNSIGNED NOT NULL,
  ADD KEY pageviews_session (session_id);

ALTER TABLE events ADD COLUMN old_session_id BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER session_id;
UPDATE events AS e JOIN dbops_unkey_0004 AS u ON u.id = e.session_id SET e.old_session_id = u.seq;
ALTER TABLE events
  DROP CONSTRAINT events_session_id_len,
  DROP INDEX events_session,
  DROP COLUMN session_id,
  CHANGE old_session_id session_id BIGINT UNSIGNED NOT NULL,
  ADD KEY events_session (session_id);

ALTER TABLE sessions
  DROP CONSTRAINT sessions_id_len,
  DROP CONSTRAINT sessions_user_hash_len,
  DROP CONSTRAINT sessions_ip_hash_len,
  DROP PRIMARY KEY,
  DROP INDEX sessions_id,
  DROP COLUMN id,
  CHANGE old_id id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT FIRST,
  ADD PRIMARY KEY (id),
  ADD KEY sessions_site_started (site_id, started_at),
  DROP INDEX sessions_user_hash,
  ADD KEY sessions_user_hash (user_hash),
  MODIFY user_hash BINARY(32) NOT NULL COMMENT 'sha256(daily salt, site, ip, user agent)',
  MODIFY ip_hash BINARY(32) NOT NULL COMMENT 'sha256 of the client IP; the IP itself is never stored';

DROP TABLE dbops_unkey_0004;
DROP TABLE IF EXISTS visitor_salts;
