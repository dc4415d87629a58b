// A target that is production (the config says so, or the server does: src/migrate/production.ts)
// must not have its schema changed, its tables filled or its partitions dropped by accident: the
// caller confirms with --confirm-production, or by typing the database name at a terminal. Going
// without the safety backup there is a second, separate decision (--confirm-no-backup), recorded
// as an administrative action.
import { createInterface } from 'node:readline/promises';
import type { Config } from '../../../config/schema.js';
import { UsageError } from '../../../errors.js';
import { productionReason } from '../../../migrate/production.js';
import type { DatabaseTarget } from '../../../migrate/target.js';

/** Refuses (UsageError, nothing changed) unless the target is not production or the change is confirmed. Returns whether it is production. */
export async function confirmProduction(config: Config, target: DatabaseTarget, action: string, confirmed: boolean | undefined): Promise<boolean> {
  const reason = await productionReason(config, target);
  if (!reason) return false;
  if (confirmed) return true;
  const database = target.database;
  const refusal = `${reason}: refusing to ${action} database ${database} without --confirm-production`;
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new UsageError(refusal);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${reason[0]!.toUpperCase()}${reason.slice(1)}. Type the database name (${database}) to ${action} it: `);
    if (answer.trim() !== database) throw new UsageError(`${refusal} (the typed name did not match)`);
  } finally {
    rl.close();
  }
  return true;
}
