// An environment marked production (config `environment: production`, env DBOPS_ENVIRONMENT) must
// not have its schema changed or its tables filled by accident: the caller confirms with
// --confirm-production, or by typing the database name when a person is at a terminal.
import { createInterface } from 'node:readline/promises';
import type { Config } from '../../../config/schema.js';
import { UsageError } from '../../../errors.js';

export async function confirmProduction(config: Config, database: string, action: string, confirmed: boolean | undefined): Promise<void> {
  if (config.environment !== 'production' || confirmed) return;
  const refusal = `environment is production: refusing to ${action} database ${database} without --confirm-production`;
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new UsageError(refusal);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Environment is production. Type the database name (${database}) to ${action} it: `);
    if (answer.trim() !== database) throw new UsageError(`${refusal} (the typed name did not match)`);
  } finally {
    rl.close();
  }
}
