// Write load for the binlog group, shaped like horizn's ingest: small transactions that
// insert pageviews and events and fill in the previous pageviews' time_on_page_ms (an
// UPDATE, as the tracker does when the next hit of a session arrives). Rows get ids above
// the dataset's, so `removeLoad` can take them out again (without binlogging) and a
// --reuse dataset stays the size it was seeded at.
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { MysqlClient } from '../../src/mysql/client.js';
import { DEFAULT_SEED_END_DATE } from '../../src/seed/index.js';
import { DATABASE } from './dataset.js';

/** The day the load writes into (the newest seeded day: its partition exists). */
const DAY = DEFAULT_SEED_END_DATE;
const PATHS = ['/', '/pricing', '/docs/getting-started', '/docs/api/events', '/blog/privacy-first-analytics', '/features/realtime', '/signup', '/docs/self-hosting/backups'];
const TITLES = ['horizn — simple analytics', 'Pricing · horizn', 'Getting started · horizn docs', 'Events API · horizn docs', 'Privacy-first analytics · horizn blog', 'Realtime · horizn', 'Sign up · horizn', 'Backups · horizn docs'];
const EVENTS = ['signup', 'outbound_click', 'download', 'newsletter', 'purchase'];

export interface LoadMarks {
  /** First ids the load uses (the dataset's max + 1). */
  firstPageviewId: number;
  firstEventId: number;
}

export interface LoadCheck {
  pageviews: number;
  events: number;
  /** Rows written by the load and their summed time_on_page_ms: proves the UPDATEs were applied too. */
  loadPageviews: number;
  loadTimeOnPage: number;
}

export interface TxShape {
  pageviews: number;
  events: number;
}

/** One connection writing load transactions; ids continue where the last transaction stopped. */
export class LoadWriter {
  private nextPageview: number;
  private nextEvent: number;
  private previous: { from: number; to: number } | null = null;
  private clock = 0;
  transactions = 0;
  rows = 0;

  private constructor(
    private readonly db: MysqlClient,
    marks: LoadMarks,
  ) {
    this.nextPageview = marks.firstPageviewId;
    this.nextEvent = marks.firstEventId;
  }

  static async open(conn: MysqlConn, marks: LoadMarks): Promise<LoadWriter> {
    const db = await MysqlClient.connect(conn, { database: DATABASE });
    // Row events with full images: what the shipper warns about otherwise, and what PITR replays.
    await db.exec('SET SESSION binlog_format = ROW');
    return new LoadWriter(db, marks);
  }

  /** Continue after another writer (the ids it used). */
  get marks(): LoadMarks {
    return { firstPageviewId: this.nextPageview, firstEventId: this.nextEvent };
  }

  async transaction(shape: TxShape): Promise<void> {
    const pv: unknown[] = [];
    const from = this.nextPageview;
    for (let i = 0; i < shape.pageviews; i++) {
      const id = this.nextPageview++;
      const k = id % PATHS.length;
      pv.push(id, DAY, (id % 3) + 1, sessionId(id), this.timestamp(), `${PATHS[k]}?ref=bench-${id % 97}`, TITLES[k], null, i === 0 ? 1 : 0);
    }
    const ev: unknown[] = [];
    for (let i = 0; i < shape.events; i++) {
      const id = this.nextEvent++;
      const name = EVENTS[id % EVENTS.length]!;
      ev.push(id, DAY, (id % 3) + 1, sessionId(id), this.timestamp(), name, PATHS[id % PATHS.length], JSON.stringify({ plan: id % 2 ? 'pro' : 'free', value: id % 500, source: 'bench' }));
    }
    await this.db.exec('BEGIN');
    try {
      if (shape.pageviews) {
        await this.db.exec(
          `INSERT INTO pageviews (id, day, site_id, session_id, \`timestamp\`, page_path, page_title, time_on_page_ms, is_entry) VALUES ${rows(shape.pageviews, 9)}`,
          pv,
        );
      }
      if (shape.events) {
        await this.db.exec(`INSERT INTO events (id, day, site_id, session_id, \`timestamp\`, event_name, page_path, properties) VALUES ${rows(shape.events, 8)}`, ev);
      }
      if (this.previous) {
        await this.db.exec('UPDATE pageviews SET time_on_page_ms = 1000 + id % 60000 WHERE day = ? AND id BETWEEN ? AND ?', [DAY, this.previous.from, this.previous.to]);
      }
      await this.db.exec('COMMIT');
    } catch (err) {
      await this.db.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.previous = shape.pageviews ? { from, to: this.nextPageview - 1 } : null;
    this.transactions++;
    this.rows += shape.pageviews + shape.events;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private timestamp(): string {
    const ms = this.clock++ % 86_400_000;
    const hh = String(Math.floor(ms / 3_600_000)).padStart(2, '0');
    const mm = String(Math.floor(ms / 60_000) % 60).padStart(2, '0');
    const ss = String(Math.floor(ms / 1000) % 60).padStart(2, '0');
    return `${DAY} ${hh}:${mm}:${ss}.${String(ms % 1000).padStart(3, '0')}`;
  }
}

/** A 16-byte session id (the schema's length): one of 100,000 load sessions. */
function sessionId(id: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(1 + (id % 100_000), 12);
  return b;
}

function rows(n: number, columns: number): string {
  const one = `(${Array(columns).fill('?').join(', ')})`;
  return Array(n).fill(one).join(', ');
}

/** Max ids + 1: where a load would start (checked against the seed's row numbers). */
export async function loadMarks(conn: MysqlConn): Promise<LoadMarks> {
  const db = await MysqlClient.connect(conn, { database: DATABASE });
  try {
    const [r] = await db.query<{ p: number | null; e: number | null }>('SELECT (SELECT MAX(id) FROM pageviews) AS p, (SELECT MAX(id) FROM events) AS e');
    return { firstPageviewId: Number(r?.p ?? 0) + 1, firstEventId: Number(r?.e ?? 0) + 1 };
  } finally {
    await db.close();
  }
}

/** Row counts of the two tables plus a fingerprint of the load's rows (compared source vs target). */
export async function loadCheck(conn: MysqlConn, marks: LoadMarks): Promise<LoadCheck> {
  const db = await MysqlClient.connect(conn, { database: DATABASE });
  try {
    const [r] = await db.query<Record<string, number | string | null>>(
      `SELECT (SELECT COUNT(*) FROM pageviews) AS pageviews, (SELECT COUNT(*) FROM events) AS events,
              (SELECT COUNT(*) FROM pageviews WHERE id >= ?) AS loadPageviews,
              (SELECT COALESCE(SUM(time_on_page_ms), 0) FROM pageviews WHERE id >= ?) AS loadTimeOnPage`,
      [marks.firstPageviewId, marks.firstPageviewId],
    );
    return { pageviews: Number(r?.pageviews), events: Number(r?.events), loadPageviews: Number(r?.loadPageviews), loadTimeOnPage: Number(r?.loadTimeOnPage) };
  } finally {
    await db.close();
  }
}

/** Bytes of binlog the source holds (all files). */
export async function binlogBytes(conn: MysqlConn): Promise<number> {
  const db = await MysqlClient.connect(conn);
  try {
    const rows = await db.query<{ File_size: number | string }>('SHOW BINARY LOGS');
    return rows.reduce((n, r) => n + Number(r.File_size), 0);
  } finally {
    await db.close();
  }
}

export interface LoadWritten {
  writers: number;
  transactions: number;
  rows: number;
  binlogBytes: number;
  seconds: number;
  /** Above every id the load used: where the next load starts. */
  marks: LoadMarks;
}

/**
 * Ids between two concurrent writers' first ids: each writer numbers its rows from its own
 * offset, so no two collide (far more than one writer writes: ~500 bytes of binlog a
 * pageview makes 50 GB before a range is used up; checked below).
 */
export const WRITER_ID_STRIDE = 100_000_000;

/**
 * Writes load transactions on `writers` connections at once until the source's binlogs grew
 * by `bytes`; returns what was written and the marks above every id used. Transactions of 40
 * pageviews + 10 events (+ the UPDATE of the same writer's previous 40). Concurrent writers
 * commit at the same time, so the source's group commit groups them, as it does many web
 * servers' connections; one writer makes every transaction depend on the one before.
 * Written with the source committing durably (withDurableCommits).
 */
export async function writeBinlogVolume(
  conn: MysqlConn,
  marks: LoadMarks,
  bytes: number,
  writers: number,
  onProgress: (written: number) => void,
): Promise<LoadWritten> {
  return withDurableCommits(conn, () => writeWith(conn, marks, bytes, writers, onProgress));
}

async function writeWith(conn: MysqlConn, marks: LoadMarks, bytes: number, writers: number, onProgress: (written: number) => void): Promise<LoadWritten> {
  const start = await binlogBytes(conn);
  const t0 = performance.now();
  const firsts = Array.from({ length: writers }, (_, k) => ({ firstPageviewId: marks.firstPageviewId + k * WRITER_ID_STRIDE, firstEventId: marks.firstEventId + k * WRITER_ID_STRIDE }));
  const opened: LoadWriter[] = [];
  let written = 0;
  let done = false;
  const until = async (work: () => Promise<void>): Promise<void> => {
    try {
      while (!done) await work();
    } finally {
      done = true; // one failing loop stops the others
    }
  };
  try {
    for (const m of firsts) opened.push(await LoadWriter.open(conn, m));
    const settled = await Promise.allSettled([
      ...opened.map((w) => until(() => w.transaction({ pageviews: 40, events: 10 }))),
      until(async () => {
        await new Promise((r) => setTimeout(r, 200));
        written = (await binlogBytes(conn)) - start;
        onProgress(written);
        if (written >= bytes) done = true;
      }),
    ]);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    opened.forEach((w, k) => {
      if (w.marks.firstPageviewId - firsts[k]!.firstPageviewId > WRITER_ID_STRIDE || w.marks.firstEventId - firsts[k]!.firstEventId > WRITER_ID_STRIDE) throw new Error(`load writer ${k} ran past its id range (${WRITER_ID_STRIDE} ids)`);
    });
    const sum = (f: (w: LoadWriter) => number): number => opened.reduce((n, w) => n + f(w), 0);
    return {
      writers,
      transactions: sum((w) => w.transactions),
      rows: sum((w) => w.rows),
      binlogBytes: written,
      seconds: (performance.now() - t0) / 1000,
      // The last writer's range is the highest: the next load starts above every id used.
      marks: opened.at(-1)!.marks,
    };
  } finally {
    await Promise.all(opened.map((w) => w.close()));
  }
}

/**
 * Runs `fn` with the source syncing the binlog and the redo log at every commit
 * (sync_binlog = 1, innodb_flush_log_at_trx_commit = 1), as a source whose binlogs are kept
 * for PITR should run: without them a crash loses binlog events of committed transactions.
 * The bench's server starts without both for the seed's speed; a commit then waits on no
 * fsync, so concurrent commits never queue up for the binlog's group commit, and the binlog
 * shows none of the commit groups (`cid=`) that parallel replication applies at once. The
 * settings are put back afterwards.
 */
async function withDurableCommits<T>(conn: MysqlConn, fn: () => Promise<T>): Promise<T> {
  const db = await MysqlClient.connect(conn);
  try {
    const [saved] = await db.query<{ sync: number | string; flush: number | string }>('SELECT @@GLOBAL.sync_binlog AS sync, @@GLOBAL.innodb_flush_log_at_trx_commit AS flush');
    await db.exec('SET GLOBAL sync_binlog = 1');
    await db.exec('SET GLOBAL innodb_flush_log_at_trx_commit = 1');
    try {
      return await fn();
    } finally {
      await db.exec('SET GLOBAL sync_binlog = ?', [Number(saved!.sync)]);
      await db.exec('SET GLOBAL innodb_flush_log_at_trx_commit = ?', [Number(saved!.flush)]);
    }
  } finally {
    await db.close();
  }
}

/** Removes the load's rows from the source without binlogging it, then drops binlogs no longer needed. */
export async function removeLoad(conn: MysqlConn, marks: LoadMarks): Promise<void> {
  const db = await MysqlClient.connect(conn, { database: DATABASE });
  try {
    await db.exec('SET SESSION sql_log_bin = 0');
    await db.exec('DELETE FROM pageviews WHERE id >= ?', [marks.firstPageviewId]);
    await db.exec('DELETE FROM events WHERE id >= ?', [marks.firstEventId]);
  } finally {
    await db.close();
  }
  await purgeBinlogs(conn);
}

/**
 * FLUSH + PURGE BINARY LOGS to the new file, so a --reuse dataset does not pile up the
 * load of every run and the next shipper starts with nothing old to ship. MariaDB keeps a
 * file until its binlog checkpoint passed; best effort, a few tries.
 */
export async function purgeBinlogs(conn: MysqlConn): Promise<void> {
  const db = await MysqlClient.connect(conn);
  try {
    await db.exec('FLUSH BINARY LOGS');
    for (let i = 0; i < 20; i++) {
      const logs = (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((r) => r.Log_name);
      const current = logs.at(-1)!;
      if (logs.length === 1) return;
      await db.exec(`PURGE BINARY LOGS TO '${current.replace(/'/g, '')}'`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await db.close();
  }
}
