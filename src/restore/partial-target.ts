// What a failed restore or pitr leaves on its target, and the clean-up of what it created
// itself. The target is looked at before the run writes anything (databases, and the
// tables, views, sequences, routines and events in the databases it may write); when the
// run fails, the difference is what this run created: it is dropped unless --keep-partial,
// and objects that were there before are never dropped. Tables that were there before and
// that a --force restore dropped and reloaded cannot be given back: they are named. The
// failure's own error is kept (its class decides the exit code) and its message gains one
// clause saying all this, so the responder knows what the target holds without looking.
import type { MysqlConn } from '../mysql/connection-url.js';
import { restoreProgressOf } from './run-restore.js';
import { withConnection, type MysqlClient } from '../mysql/client.js';
import { quoteIdent } from '../verify/quote-ident.js';
import { UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import type { PlannedPart } from './select-parts.js';

export interface PartialTargetOptions {
  target: MysqlConn;
  /** Names the run in messages: "removed what this restore created". */
  operation: 'restore' | 'pitr';
  /** Databases the run may create or write (already renamed); undefined: any (a full-scope pitr replays whatever the binlog creates). */
  databases?: string[];
  keepPartial: boolean;
  /** The run writes into the target's binlog; the clean-up then does too, otherwise not. */
  binlog: boolean;
  /** The backup restored, for "loaded from backup X". */
  backupId: string;
}

/** An object on the target: kind is TABLE_TYPE (BASE TABLE, VIEW, SEQUENCE…), PROCEDURE, FUNCTION or EVENT. */
interface TargetObject {
  database: string;
  name: string;
  kind: string;
}

interface Snapshot {
  databases: Set<string>;
  objects: Map<string, TargetObject>;
}

const key = (o: Pick<TargetObject, 'database' | 'name' | 'kind'>): string => `${o.database}\u0000${o.kind === 'PROCEDURE' || o.kind === 'FUNCTION' || o.kind === 'EVENT' ? o.kind : 'TABLE'}\u0000${o.name}`;

/** What the failed run left, as reported (and logged). */
export interface PartialReport {
  createdDatabases: string[];
  createdObjects: string[];
  /** Created and dropped again. */
  removed: boolean;
  /** Could not be dropped: name → why. */
  notRemoved: string[];
  /** There before, dropped and loaded again by the restore (a --force restore). */
  replaced: string[];
  /** There before, gone now (a replay dropped them). */
  gone: string[];
  accountsApplied: boolean;
  replayStarted: boolean;
  /** The target could not be looked at after the failure. */
  unknown?: string;
}

interface StartedPart {
  database: string;
  table: string | undefined;
  kind: PlannedPart['part']['kind'];
  loaded: boolean;
}

export class PartialTarget {
  private readonly started = new Map<string, StartedPart>();
  private replayStarted = false;

  private constructor(
    private readonly o: PartialTargetOptions,
    private readonly before: Snapshot,
  ) {}

  static async snapshot(o: PartialTargetOptions): Promise<PartialTarget> {
    return new PartialTarget(o, await withConnection(o.target, (db) => snapshot(db, o.databases)));
  }

  /** Restore progress (runRestore's onPart): which parts began writing, which finished. */
  readonly onPart = (step: PlannedPart, state: 'started' | 'loaded'): void => {
    const { part } = step;
    const database = step.targetDatabase ?? part.database ?? '';
    const k = `${part.kind}\u0000${database}\u0000${part.table ?? ''}`;
    if (state === 'started') this.started.set(k, { database, table: part.table, kind: part.kind, loaded: false });
    else if (this.started.has(k)) this.started.get(k)!.loaded = true;
  };

  /** Objects that were there before and that a started part dropped and loaded again. */
  private replacedByRestore(): string[] {
    const out: string[] = [];
    const had = (database: string, kinds: string[]): boolean => [...this.before.objects.values()].some((x) => x.database === database && kinds.includes(x.kind));
    for (const s of this.started.values()) {
      const incomplete = s.loaded ? '' : ' (load incomplete)';
      if ((s.kind === 'table' || s.kind === 'sequence') && this.before.objects.has(key({ database: s.database, name: s.table!, kind: 'BASE TABLE' }))) out.push(`${s.database}.${s.table}${incomplete}`);
      else if (s.kind === 'views' && had(s.database, ['VIEW'])) out.push(`views of ${s.database}${incomplete}`);
      else if (s.kind === 'routines' && had(s.database, ['PROCEDURE', 'FUNCTION'])) out.push(`routines of ${s.database}${incomplete}`);
      else if (s.kind === 'events' && had(s.database, ['EVENT'])) out.push(`events of ${s.database}${incomplete}`);
    }
    return out.sort();
  }

  /** The binlog replay began: tables kept from before may hold part of it. */
  replaying(): void {
    this.replayStarted = true;
  }

  /** After a failure: clean up (unless kept), and return the clause that says what the target holds now. */
  async settle(): Promise<{ report: PartialReport; clause: string }> {
    const o = this.o;
    const report: PartialReport = { createdDatabases: [], createdObjects: [], removed: false, notRemoved: [], replaced: [], gone: [], accountsApplied: false, replayStarted: this.replayStarted };
    const inScope = (db: string): boolean => o.databases === undefined || o.databases.includes(db);
    let now: Snapshot;
    try {
      now = await withConnection(o.target, (db) => snapshot(db, o.databases));
    } catch (err) {
      report.unknown = (err as Error).message;
      const maybe = (o.databases ?? []).filter((d) => !this.before.databases.has(d));
      return { report, clause: `the target could not be looked at after the failure (${report.unknown}): it may hold what this ${o.operation} wrote${maybe.length ? ` (databases ${maybe.join(', ')} did not exist before)` : ''}; check it before trying again` };
    }
    report.createdDatabases = [...now.databases].filter((d) => inScope(d) && !this.before.databases.has(d)).sort();
    const created = [...now.objects.entries()].filter(([k, v]) => this.before.databases.has(v.database) && inScope(v.database) && !this.before.objects.has(k)).map(([, v]) => v);
    report.createdObjects = created.map(describe).sort();
    report.gone = [...this.before.objects.entries()].filter(([k, v]) => inScope(v.database) && !now.objects.has(k)).map(([, v]) => describe(v)).sort();
    report.replaced = this.replacedByRestore();
    report.accountsApplied = [...this.started.values()].some((s) => s.kind === 'accounts');
    if (!o.keepPartial && (report.createdDatabases.length > 0 || created.length > 0)) {
      report.removed = true;
      report.notRemoved = await withConnection(o.target, (db) => drop(db, report.createdDatabases, created, o.binlog)).catch((err: Error) => [`everything (${err.message})`]);
    }
    const clause = describeReport(report, o);
    log.warn({ operation: o.operation, ...report }, `${o.operation} failed: what it left on the target`);
    return { report, clause };
  }
}

/**
 * Run `fn` (a restore, or a restore and a replay) against the target; when it fails, clean
 * up what it created (unless keepPartial) and add to the error what the target holds now.
 * A usage error that changed nothing (a refusal before any write) passes through untouched.
 */
export async function withPartialTarget<T>(o: PartialTargetOptions, fn: (partial: PartialTarget) => Promise<T>): Promise<T> {
  const partial = await PartialTarget.snapshot(o);
  try {
    return await fn(partial);
  } catch (err) {
    let settled: Awaited<ReturnType<PartialTarget['settle']>>;
    try {
      settled = await partial.settle();
    } catch (e) {
      if (err instanceof Error) err.message = `${err.message}; what it left on the target is unknown (${(e as Error).message}): check it before trying again`;
      throw err;
    }
    const { report, clause } = settled;
    const changed = report.unknown !== undefined || report.createdDatabases.length + report.createdObjects.length + report.replaced.length + report.gone.length > 0 || report.accountsApplied;
    if (err instanceof UsageError && !changed) throw err;
    // Which parts reached the target matters only where something of this run stays there:
    // what it created and kept (--keep-partial), or tables it dropped and partly reloaded.
    const progress = err instanceof Error ? restoreProgressOf.get(err) : undefined;
    const stays = !report.removed || report.replaced.length > 0 || report.notRemoved.length > 0;
    // The error keeps its class (the exit code and the evidence outcome follow it); its one line gains the clause.
    if (err instanceof Error) err.message = `${err.message}; ${progress && stays ? `${progress}; ` : ''}${clause}`;
    throw err;
  }
}

function describe(o: TargetObject): string {
  const kind = o.kind === 'BASE TABLE' || o.kind === 'SYSTEM VERSIONED' ? 'table' : o.kind.toLowerCase();
  return `${kind} ${o.database}.${o.name}`;
}

function list(label: string, items: string[]): string {
  return items.length ? `${label} ${items.join(', ')}` : '';
}

function describeReport(r: PartialReport, o: PartialTargetOptions): string {
  const parts: string[] = [];
  const created = [list('databases', r.createdDatabases), list('objects', r.createdObjects)].filter(Boolean).join(' and ');
  if (created) {
    if (!r.removed) parts.push(`kept on the target (--keep-partial): ${created} (partly ${o.operation === 'pitr' ? 'recovered' : 'restored'}: drop them before trying again, or run again with --force)`);
    else if (r.notRemoved.length) parts.push(`created ${created}; could not remove ${r.notRemoved.join(', ')}: drop it by hand`);
    else parts.push(`removed what this ${o.operation} created: ${created}`);
  }
  if (r.replaced.length) parts.push(`replaced (dropped and loaded from backup ${o.backupId}, not undone): ${r.replaced.join(', ')}${r.replayStarted ? ', with part of the binlog replay applied' : ''}`);
  if (r.gone.length) parts.push(`dropped by the replay though they were there before (not undone): ${r.gone.join(', ')}`);
  if (r.accountsApplied) parts.push('accounts and grants from the backup were applied (not undone)');
  if (!r.replaced.length && !r.gone.length) parts.push(created ? 'nothing that was on the target before was dropped' : 'the target was left as it was');
  return parts.join('; ');
}

async function snapshot(db: MysqlClient, databases: string[] | undefined): Promise<Snapshot> {
  const all = await db.listUserDatabases();
  const scoped = databases === undefined ? all : all.filter((d) => databases.includes(d));
  const out: Snapshot = { databases: new Set(all), objects: new Map() };
  if (scoped.length === 0) return out;
  const add = (rows: Array<{ d: string; n: string; k: string }>): void => {
    for (const r of rows) {
      const o = { database: r.d, name: r.n, kind: r.k };
      out.objects.set(key(o), o);
    }
  };
  add(await db.query('SELECT TABLE_SCHEMA AS d, TABLE_NAME AS n, TABLE_TYPE AS k FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?)', [scoped]));
  add(await db.query('SELECT ROUTINE_SCHEMA AS d, ROUTINE_NAME AS n, ROUTINE_TYPE AS k FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (?)', [scoped]));
  add(await db.query("SELECT EVENT_SCHEMA AS d, EVENT_NAME AS n, 'EVENT' AS k FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (?)", [scoped]));
  return out;
}

/** Drop what this run created; returns what could not be dropped, with why. */
async function drop(db: MysqlClient, databases: string[], objects: TargetObject[], binlog: boolean): Promise<string[]> {
  if (!binlog) await db.exec('SET SESSION sql_log_bin=0').catch(() => undefined);
  // Tables created by the run may reference each other by foreign key, in any order.
  await db.exec('SET SESSION foreign_key_checks=0');
  const failed: string[] = [];
  const statements: Array<[string, string]> = [
    ...objects.map((o): [string, string] => [describe(o), `DROP ${dropKind(o.kind)} IF EXISTS ${quoteIdent(o.database)}.${quoteIdent(o.name)}`]),
    ...databases.map((d): [string, string] => [`database ${d}`, `DROP DATABASE IF EXISTS ${quoteIdent(d)}`]),
  ];
  for (const [what, sql] of statements) {
    try {
      await db.exec(sql);
    } catch (err) {
      failed.push(`${what} (${(err as Error).message})`);
    }
  }
  return failed;
}

function dropKind(kind: string): string {
  if (kind === 'VIEW') return 'VIEW';
  if (kind === 'SEQUENCE') return 'SEQUENCE';
  if (kind === 'PROCEDURE' || kind === 'FUNCTION' || kind === 'EVENT') return kind;
  return 'TABLE';
}

