// New entries of the server's error log since the daemon's last look. MySQL 8.0.22+ keeps the
// newest entries in performance_schema.error_log (position: the LOGGED time of the last one
// read); MariaDB has no such table, so its log is read as the file @@log_error names, when this
// host can read it (position: a byte offset, and a hash of the file's first bytes to notice a
// rotated or truncated file). The position lives in the repository. Only the daemon's look
// (`advance`) moves it: its first look starts at the end (old history is not news), and a
// `dbops db report` shows what is new since the daemon's last look without hiding it from the
// daemon's alert; with no look recorded it shows the end of the log.
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { MysqlClient } from '../mysql/client.js';
import { MysqlQueryError } from '../mysql/client.js';
import type { Repository } from '../repo/repository.js';
import type { ErrorEntry, ErrorFacts, ErrorLevel, Section } from './report-types.js';
import type { ServerFacts } from './server-facts.js';
import { readErrorLogPosition, saveErrorLogPosition, type ErrorLogPosition } from './history-store.js';

/** At most this much of the file is read in one look (the newest part when more is new). */
export const MAX_READ_BYTES = 1024 * 1024;
/** Without a recorded look, `db report` shows the entries in the last this many bytes. */
export const TAIL_BYTES = 64 * 1024;
const HEAD_BYTES = 256;
const KEEP_ENTRIES = 50;

function level(word: string): ErrorLevel {
  const w = word.toLowerCase();
  return w === 'error' || w === 'err' ? 'error' : w === 'warning' || w === 'warn' ? 'warning' : w === 'system' ? 'system' : 'note';
}

// MariaDB: "2026-12-06 10:19:14 40 [ERROR] message" (older: "201206 10:19:14 [ERROR] message");
// MySQL's file: "2026-12-06T10:19:14.123456Z 40 [ERROR] [MY-010000] [Server] message".
const MARIADB_LINE = /^(\d{4}-\d{2}-\d{2}|\d{6}) +(\d{1,2}:\d{2}:\d{2}) +(?:\d+ +)?\[(\w+)\] ?(.*)$/;
const MYSQL_LINE = /^(\d{4}-\d{2}-\d{2}T[\d:.]+Z?) +\d+ +\[(\w+)\] +\[(MY-\d+)\] +\[(\w+)\] +(.*)$/;

/** Entries of an error log's text; lines that start no entry continue the one before. */
export function parseErrorLog(text: string): ErrorEntry[] {
  const out: ErrorEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const my = MYSQL_LINE.exec(line);
    const ma = my ? null : MARIADB_LINE.exec(line);
    if (my) out.push({ at: my[1]!, level: level(my[2]!), code: my[3]!, subsystem: my[4]!, message: my[5]! });
    else if (ma) out.push({ at: `${ma[1]} ${ma[2]}`, level: level(ma[3]!), message: ma[4]! });
    else if (out.length) {
      const last = out.at(-1)!;
      if (last.message.length < 2000) last.message = `${last.message} | ${line.trim()}`.slice(0, 2000);
    }
  }
  return out;
}

export interface ErrorLogRow {
  LOGGED: string;
  PRIO: string;
  ERROR_CODE: string | null;
  SUBSYSTEM: string | null;
  DATA: string;
}

export function errorLogRows(rows: ErrorLogRow[]): ErrorEntry[] {
  return rows.map((r) => ({ at: r.LOGGED, level: level(r.PRIO), ...(r.ERROR_CODE ? { code: r.ERROR_CODE } : {}), ...(r.SUBSYSTEM ? { subsystem: r.SUBSYSTEM } : {}), message: r.DATA }));
}

function facts(source: ErrorFacts['source'], entries: ErrorEntry[], extra: Partial<ErrorFacts>): ErrorFacts {
  const counts: Record<ErrorLevel, number> = { error: 0, warning: 0, note: 0, system: 0 };
  for (const e of entries) counts[e.level]++;
  return { source, since: null, firstLook: false, counts, entries: entries.slice(-KEEP_ENTRIES), notes: [], ...extra };
}

export interface ErrorLogOptions {
  repo?: Repository | undefined;
  /** The daemon's look: moves the stored position (needs a writable repository). */
  advance: boolean;
  now: Date;
}

type Look = { facts: ErrorFacts; position: Omit<ErrorLogPosition, 'signature' | 'format' | 'version'> };

async function fromTable(db: MysqlClient, f: ServerFacts, stored: ErrorLogPosition | null, o: ErrorLogOptions): Promise<Look> {
  const sourceId = f.info.serverUuid;
  const since = stored?.source === 'table' ? stored.lastLogged : null;
  const base = { sourceId, lookedAt: o.now.toISOString(), source: 'table' as const, file: null, offset: null, head: null };
  if (!since && o.advance) {
    const last = (await db.query<{ m: string | null }>('SELECT MAX(LOGGED) AS m FROM performance_schema.error_log'))[0]?.m ?? null;
    return { facts: facts('performance_schema.error_log', [], { firstLook: true, notes: ['first look: entries from now on count as new'] }), position: { ...base, lastLogged: last } };
  }
  const cols = 'LOGGED, PRIO, ERROR_CODE, SUBSYSTEM, DATA';
  const rows = since
    ? await db.query<ErrorLogRow>(`SELECT ${cols} FROM performance_schema.error_log WHERE LOGGED > ? ORDER BY LOGGED LIMIT 10000`, [since])
    : (await db.query<ErrorLogRow>(`SELECT ${cols} FROM performance_schema.error_log ORDER BY LOGGED DESC LIMIT ${KEEP_ENTRIES}`)).reverse();
  const entries = errorLogRows(rows);
  return {
    facts: facts('performance_schema.error_log', entries, since ? { since: { lookedAt: stored!.lookedAt } } : { notes: ['no earlier look recorded (the daemon records one): the newest entries'] }),
    position: { ...base, lastLogged: entries.at(-1)?.at ?? since },
  };
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** @@log_error as a path on this host, or why there is none. */
export function errorLogPath(f: ServerFacts): { path?: string; reason?: string } {
  const v = (f.variables.log_error ?? '').trim();
  if (!v || v === 'stderr') return { reason: `the server writes its error log to stderr (log_error=${v ? 'stderr' : "''"}): read it where the service manager keeps it (journalctl, docker logs)` };
  return { path: isAbsolute(v) ? v : join(f.variables.datadir ?? '', v) };
}

async function fromFile(f: ServerFacts, path: string, stored: ErrorLogPosition | null, o: ErrorLogOptions): Promise<Look | Unreadable> {
  let size: number;
  try {
    size = (await stat(path)).size;
    await readRange(path, 0, 0);
  } catch (err) {
    return { unreadable: `the error log ${path} (@@log_error) is not readable from this host (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run dbops on the server's host with read access to it` };
  }
  const head = createHash('sha256').update(await readRange(path, 0, Math.min(HEAD_BYTES, size))).digest('hex');
  const notes: string[] = [];
  const base = { sourceId: f.info.serverUuid, lookedAt: o.now.toISOString(), source: 'file' as const, file: path, head, lastLogged: null };
  const known = stored?.source === 'file' && stored.file === path ? stored : null;
  let start: number;
  let tail = false;
  if (known && known.offset !== null && known.head === head && known.offset <= size) start = known.offset;
  else if (known) {
    start = 0;
    notes.push('the log was rotated or truncated since the last look: read from its start');
  } else if (o.advance) {
    return { facts: facts('file', [], { file: path, firstLook: true, notes: ['first look: entries from now on count as new'] }), position: { ...base, offset: size } };
  } else {
    start = Math.max(0, size - TAIL_BYTES);
    tail = true;
    notes.push(`no earlier look recorded (the daemon records one): the entries in the last ${TAIL_BYTES / 1024} KiB of the log`);
  }
  if (size - start > MAX_READ_BYTES) {
    notes.push(`${size - start - MAX_READ_BYTES} bytes of new log skipped: only the newest ${MAX_READ_BYTES / 1024 / 1024} MiB are read in one look`);
    start = size - MAX_READ_BYTES;
    tail = true;
  }
  const buf = await readRange(path, start, size);
  // An unfinished last line is left for the next look; a tail starts after its first (cut) line.
  const end = buf.lastIndexOf(0x0a) + 1;
  const from = tail && start > 0 ? buf.indexOf(0x0a) + 1 : 0;
  const entries = parseErrorLog(buf.subarray(from, Math.max(from, end)).toString('utf8'));
  return {
    facts: facts('file', entries, { file: path, since: known ? { lookedAt: known.lookedAt } : null, notes }),
    position: { ...base, offset: start + end },
  };
}

interface Unreadable {
  unreadable: string;
}

export async function collectErrors(db: MysqlClient, f: ServerFacts, o: ErrorLogOptions): Promise<Section<ErrorFacts>> {
  const stored = o.repo ? await readErrorLogPosition(o.repo, f.info.serverUuid) : null;
  let look: Look | undefined;
  if (f.info.flavor === 'mysql') {
    try {
      look = await fromTable(db, f, stored, o);
    } catch (err) {
      if (!(err instanceof MysqlQueryError)) throw err;
    }
  }
  if (!look) {
    const p = errorLogPath(f);
    if (!p.path) return { available: false, reason: p.reason! };
    const r = await fromFile(f, p.path, stored, o);
    if ('unreadable' in r) return { available: false, reason: r.unreadable };
    look = r;
  }
  if (o.advance && o.repo?.canSign) await saveErrorLogPosition(o.repo, look.position);
  return { available: true, ...look.facts };
}
