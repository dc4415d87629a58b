// Loads a migrations directory: NNNN_name.up.sql + NNNN_name.down.sql pairs, validated and ordered,
// each with a sha256 over up and down so that an edit after it was applied is detected (drift).
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { installedPackage } from '../util/package-root.js';

export const MIGRATION_FILE_RE = /^(\d{4,})_([a-z0-9][a-z0-9_]*)\.(up|down)\.sql$/;

export interface MigrationFile {
  version: number;
  /** e.g. "core_tables" */
  name: string;
  /** e.g. "0001_core_tables": the stem both files share. */
  id: string;
  upPath: string;
  downPath: string;
  up: string;
  down: string;
  /** sha256 hex of up, a NUL byte, then down. */
  checksum: string;
}

/** db/migrations of this package (from src/, the bundle in dist/ and the image alike). */
export function defaultMigrationsDir(): string {
  return join(installedPackage().root, 'db', 'migrations');
}

export function migrationChecksum(up: string, down: string): string {
  return createHash('sha256').update(up).update('\0').update(down).digest('hex');
}

/** Reads and validates every migration in `dir`, sorted by version. Throws UsageError listing all problems. */
export async function loadMigrations(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new UsageError(`cannot read migrations directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const problems: string[] = [];
  const byVersion = new Map<number, { id: string; up?: string; down?: string }>();
  for (const file of names.sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = MIGRATION_FILE_RE.exec(file);
    if (!m) {
      problems.push(`${file}: not a migration name; use NNNN_snake_name.up.sql / .down.sql`);
      continue;
    }
    const version = Number(m[1]);
    const id = `${m[1]}_${m[2]}`;
    const entry = byVersion.get(version) ?? { id };
    if (entry.id !== id) {
      problems.push(`${file}: version ${m[1]} is also used by ${entry.id}; give each migration its own number`);
      continue;
    }
    entry[m[3] as 'up' | 'down'] = file;
    byVersion.set(version, entry);
  }
  for (const [, e] of byVersion) {
    if (!e.up) problems.push(`${e.id}.up.sql is missing (every migration needs an up and a down file)`);
    if (!e.down) problems.push(`${e.id}.down.sql is missing (every migration needs an up and a down file)`);
  }
  if (problems.length > 0) {
    throw new UsageError(`invalid migrations in ${dir}: ${problems.join('; ')}`);
  }
  const versions = [...byVersion.keys()].sort((a, b) => a - b);
  const out: MigrationFile[] = [];
  for (const version of versions) {
    const e = byVersion.get(version)!;
    const upPath = join(dir, e.up!);
    const downPath = join(dir, e.down!);
    const [up, down] = await Promise.all([readFile(upPath, 'utf8'), readFile(downPath, 'utf8')]);
    out.push({
      version,
      name: e.id.slice(e.id.indexOf('_') + 1),
      id: e.id,
      upPath,
      downPath,
      up,
      down,
      checksum: migrationChecksum(up, down),
    });
  }
  return out;
}
