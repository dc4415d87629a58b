// Scaffolds the next migration pair so numbering and naming never depend on someone's memory.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { loadMigrations } from './migration-files.js';

export interface CreatedMigration {
  version: number;
  id: string;
  upPath: string;
  downPath: string;
}

/** Writes NNNN_<name>.up.sql and .down.sql with the next free version. `name` becomes snake_case. */
export async function create(dir: string, name: string): Promise<CreatedMigration> {
  const snake = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!/^[a-z0-9][a-z0-9_]*$/.test(snake)) {
    throw new UsageError(`migration name "${name}" has no letters or digits; use e.g. "add_goals_table"`);
  }
  await mkdir(dir, { recursive: true });
  const existing = await loadMigrations(dir);
  const version = (existing.at(-1)?.version ?? 0) + 1;
  const id = `${String(version).padStart(4, '0')}_${snake}`;
  const upPath = join(dir, `${id}.up.sql`);
  const downPath = join(dir, `${id}.down.sql`);
  // 'wx': never overwrite a file someone else just created.
  await writeFile(upPath, `-- ${id}: what this migration changes and why.\n\n`, { flag: 'wx' });
  await writeFile(downPath, `-- Undo ${id}. Prefer IF EXISTS so this also cleans up after a failed up.\n\n`, {
    flag: 'wx',
  });
  return { version, id, upPath, downPath };
}
