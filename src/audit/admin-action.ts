// Every administrative action (retention deletions, partition archive/drop, migrate
// up/down/resolve/baseline, a skipped safety backup…) goes through this one function, so
// that all of them land in the same record: the log always, and the repository's evidence
// log whenever this process has opened one it may sign into (recordAdminActionsIn: the CLI
// does it for every writable repository, the daemon at start). Library code that acts on a
// database therefore needs no repository of its own to be accountable.
import { hostname, userInfo } from 'node:os';
import { log } from '../util/logger.js';
import type { Repository } from '../repo/repository.js';
import { recordEvidence } from '../repo/evidence-log.js';

let evidenceRepo: Repository | undefined;

/** From now on, administrative actions are also appended to this repository's evidence log. */
export function recordAdminActionsIn(repo: Repository): void {
  if (repo.canSign) evidenceRepo = repo;
}

export interface AdminAction {
  /** Dotted verb, e.g. `retention.delete`, `partition.drop`, `migrate.up`. */
  action: `${string}.${string}`;
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
  if (!evidenceRepo) return;
  const recording = recordEvidence(evidenceRepo, {
    action: action.action,
    subject: action.target ?? null,
    outcome: action.outcome === 'ok' ? 'ok' : 'error',
    summary: `${action.action}${action.target ? ` ${action.target}` : ''}${action.outcome === 'ok' ? '' : ' failed'}`,
    details: action.details,
  });
  // A failure is reported by its caller; an evidence log that cannot take it (a full disk
  // behind both) must not replace that message, so it is only logged here.
  if (action.outcome === 'failed') await recording.catch((err: Error) => log.error({ err: err.message }, 'the failure could not be recorded in the evidence log'));
  else await recording;
}
