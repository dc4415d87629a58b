// Every administrative action (retention deletions, partition archive/drop, migrate
// up/down/resolve/baseline, a skipped safety backup…) goes through this one function, so
// that all of them land in the same record. For now that record is the log; the evidence
// log (BRIEF "Evidence log") will be the durable one, behind this same call.
import { hostname, userInfo } from 'node:os';
import { log } from '../util/logger.js';

export interface AdminAction {
  /** Dotted verb, e.g. `retention.delete`, `partition.drop`, `migrate.up`. */
  action: string;
  /** What it acted on, e.g. `horizn.sessions` or `horizn`. */
  target?: string;
  /** What a reader needs to judge it afterwards: counts, ranges, ids. Never secrets. */
  details: Record<string, unknown>;
  outcome: 'ok' | 'failed';
}

function who(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // containers without a passwd entry
  }
  return `${user}@${hostname()}`;
}

/** Records one administrative action. Async so that a durable store can take its place. */
export async function recordAdminAction(action: AdminAction): Promise<void> {
  const entry = { adminAction: action.action, target: action.target, outcome: action.outcome, by: who(), details: action.details };
  if (action.outcome === 'ok') log.info(entry, 'administrative action');
  else log.warn(entry, 'administrative action failed');
}
