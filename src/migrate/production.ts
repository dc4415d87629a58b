// Is this target production? `environment: production` in the config is one answer, but a config
// label is easy to get wrong (a staging config pointed at the production server). The server can
// say so too: a row in the database's `settings` table (production.setting, default `environment`,
// whose JSON value is "production"), or its @@hostname matching production.hostnamePattern.
import type { Config } from '../config/schema.js';
import { connect } from '../mysql/client.js';
import type { DatabaseTarget } from './target.js';

/** Why the target counts as production, one phrase; undefined when nothing says so. */
export async function productionReason(config: Config, target: DatabaseTarget): Promise<string | undefined> {
  if (config.environment === 'production') return 'environment is production';
  const { setting, hostnamePattern } = config.production;
  if (!setting && !hostnamePattern) return undefined;
  const db = await connect(target.server);
  try {
    if (hostnamePattern) {
      const [h] = await db.query<{ h: string }>('SELECT @@hostname AS h');
      const host = String(h?.h ?? '');
      if (new RegExp(hostnamePattern).test(host)) return `server ${host} matches production.hostnamePattern`;
    }
    if (setting) {
      const has = await db.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'settings'",
        [target.database],
      );
      if (Number(has[0]?.n ?? 0) > 0) {
        const rows = await db.query<{ v: string | null }>(`SELECT JSON_UNQUOTE(value) AS v FROM \`${target.database}\`.settings WHERE name = ?`, [setting]);
        if (String(rows[0]?.v ?? '').toLowerCase() === 'production') return `database ${target.database} is marked production (settings row ${setting})`;
      }
    }
    return undefined;
  } finally {
    await db.close();
  }
}
