// Waits until a restore target has no background work left from the previous load, so each
// timed load starts from the same state. A bulk load leaves the buffer pool full of dirty
// pages and the purge thread with undo to clean; on 2 cores the next load then shares the CPU
// and the disk with that work (dbops' back-to-back loads slowed 29 → 36 → 38 s that way).
// Waiting keeps the server warm as a long-running target is; a restart would also empty the
// buffer pool and the caches, adding a cold start to whichever side happened to follow it.
import { withConnection } from '../../src/mysql/client.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';

export interface QuiescentState {
  /** How long the wait took (s). */
  seconds: number;
  /** Dirty pages and purge history length when the wait began, and when it ended. */
  before: { dirtyPages: number; historyLength: number };
  after: { dirtyPages: number; historyLength: number };
  /** False when the timeout ended the wait first. */
  reached: boolean;
}

/** Purge is "done" at this history list length or below (the server's own statistics updates keep a few). */
export const HISTORY_DONE = 10;

async function readState(conn: MysqlConn): Promise<{ dirtyPages: number; historyLength: number }> {
  return withConnection(conn, async (db) => {
    const [dirty] = await db.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
    const [history] = await db.query<{ n: number | string }>("SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'");
    return { dirtyPages: Number(dirty?.Value ?? 0), historyLength: Number(history?.n ?? 0) };
  });
}

/**
 * Flushes every dirty page (innodb_max_dirty_pages_pct = 0 while waiting, so the page cleaner
 * does not idle at its low-water mark) and waits for purge, then puts the settings back.
 */
export async function waitQuiescent(conn: MysqlConn, timeoutMs = 600_000): Promise<QuiescentState> {
  const started = performance.now();
  const before = await readState(conn);
  const saved = await withConnection(conn, async (db) => {
    const [row] = await db.query<{ pct: number; lwm: number }>('SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct, @@GLOBAL.innodb_max_dirty_pages_pct_lwm AS lwm');
    await db.exec('SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0');
    await db.exec('SET GLOBAL innodb_max_dirty_pages_pct = 0');
    return row!;
  });
  let after = before;
  let reached = false;
  try {
    while (performance.now() - started < timeoutMs) {
      after = await readState(conn);
      if (after.dirtyPages === 0 && after.historyLength <= HISTORY_DONE) {
        reached = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await withConnection(conn, async (db) => {
      await db.exec(`SET GLOBAL innodb_max_dirty_pages_pct = ${Number(saved.pct)}`);
      await db.exec(`SET GLOBAL innodb_max_dirty_pages_pct_lwm = ${Number(saved.lwm)}`);
    });
  }
  return { seconds: (performance.now() - started) / 1000, before, after, reached };
}
