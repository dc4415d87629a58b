-- Dashboard accounts and instance settings.
--
-- Privacy: no personal data in clear here either. A user logs in with a username; the e-mail address
-- is kept only as sha256(lower(trim(email))) so a reset request can be matched without storing it.
-- Passwords are stored as an encoded argon2id/bcrypt string produced by the application.
--
-- Foreign keys: settings.updated_by -> users.id ON DELETE SET NULL (audit trail survives a deleted
-- account). Both tables are tiny and written by people, never by the tracking path.

CREATE TABLE users (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  username VARCHAR(64) NOT NULL,
  email_sha256 BINARY(32) NULL COMMENT 'sha256(lower(trim(email))); the address is not stored',
  password_hash VARCHAR(255) NOT NULL COMMENT 'encoded argon2id or bcrypt string',
  role ENUM('admin','editor','viewer') NOT NULL DEFAULT 'viewer',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_login_at DATETIME(3) NULL,
  disabled_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_username (username),
  UNIQUE KEY users_email_sha256 (email_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE settings (
  name VARCHAR(64) NOT NULL,
  value JSON NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  updated_by INT UNSIGNED NULL,
  PRIMARY KEY (name),
  KEY settings_updated_by (updated_by),
  CONSTRAINT settings_updated_by_fk FOREIGN KEY (updated_by) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
