// What a seeded database needs besides analytics data before the dashboard can be used: a
// development login and the instance settings. Rows that already exist are kept as they are (a
// re-seed must not reset a changed password, nor overwrite a settings row such as the production
// marker `environment`).
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';

/** The development login (README "Development data"). Never use it outside development. */
export const DEV_USERNAME = 'dev';
export const DEV_PASSWORD = 'horizn-dev';
export const DEV_EMAIL = 'dev@horizn.example';
/** bcrypt (cost 10) of DEV_PASSWORD, fixed so that the same seed gives the same rows. */
const DEV_PASSWORD_HASH = '$2b$10$lBtbz/mekppeuXNTZPbTEeZIfl7LyMjfdZqS2onAGphJ2Kf7nDPbq';

/** name → JSON value. `environment` is also the production marker dbops reads (production.setting). */
export const DEV_SETTINGS: Record<string, unknown> = {
  environment: 'development',
  instance_name: 'horizn (development)',
  default_site_id: 1,
  realtime_window_minutes: 5,
  allow_signup: false,
};

export async function insertDevelopmentAccount(conn: Connection, createdAt: string): Promise<void> {
  const emailSha256 = createHash('sha256').update(DEV_EMAIL.trim().toLowerCase()).digest();
  await conn.query(
    "INSERT IGNORE INTO users (username, email_sha256, password_hash, role, created_at) VALUES (?, ?, ?, 'admin', ?)",
    [DEV_USERNAME, emailSha256, DEV_PASSWORD_HASH, createdAt],
  );
  await conn.query('INSERT IGNORE INTO settings (name, value, updated_at) VALUES ?', [
    Object.entries(DEV_SETTINGS).map(([name, value]) => [name, JSON.stringify(value), createdAt]),
  ]);
}
