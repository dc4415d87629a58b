// Retention counts per scope, not per backup: a backup limited with --databases holds only
// some databases, so "the newest backup", the GFS counts and the PITR base are decided for
// each database (and for the accounts part) over the backups that hold it, and a backup
// stays while any scope needs it. A scope is one source's database, or its accounts.
import type { BackupFacts } from './types.js';

export interface Scope {
  serverUuid: string;
  kind: 'database' | 'accounts';
  /** The database; null for the accounts. */
  database: string | null;
  /** The source's backups that hold it. */
  holders: BackupFacts[];
}

export const ACCOUNTS_LABEL = 'accounts (users and grants)';

/** Identifies a scope within a source (a database may be named "accounts"). */
export function scopeKey(s: Pick<Scope, 'kind' | 'database'>): string {
  return s.kind === 'accounts' ? 'accounts' : `db:${s.database}`;
}

export function scopeLabel(s: Pick<Scope, 'kind' | 'database'>): string {
  return s.kind === 'accounts' ? ACCOUNTS_LABEL : s.database!;
}

/** The scope keys a backup holds. */
export function scopeKeysOf(b: BackupFacts): string[] {
  return [...b.databases.map((database) => scopeKey({ kind: 'database', database })), ...(b.accounts ? ['accounts'] : [])];
}

/** Every scope of ONE source's backups: databases by name, then the accounts. */
export function scopesOf(serverUuid: string, backups: readonly BackupFacts[]): Scope[] {
  const databases = [...new Set(backups.flatMap((b) => b.databases))].sort();
  const scopes: Scope[] = databases.map((database) => ({ serverUuid, kind: 'database', database, holders: backups.filter((b) => b.databases.includes(database)) }));
  const withAccounts = backups.filter((b) => b.accounts);
  if (withAccounts.length) scopes.push({ serverUuid, kind: 'accounts', database: null, holders: withAccounts });
  return scopes;
}
