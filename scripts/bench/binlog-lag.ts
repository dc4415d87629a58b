// Shipping lag under a steady write load: the continuous `dbops binlog ship` against the
// dataset server while a writer commits a fixed number of rows per second, and the lag
// sampled once a second the way an operator or the daemon's /metrics sees it: the
// repository's shipping status (src/binlog/shipping-status.ts, what `dbops binlog status`
// and `dbops status` print), lagSeconds = now − the newest shipped event, in whole seconds.
// Sampled in-process: a `dbops binlog status` process per sample took ~2 s of wall for its
// start-up on the shared 2-core machine, too slow for 1 s samples and competing with the
// shipper it measures.
import { execa, type ResultPromise } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { MysqlClient } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { openRepository } from '../../src/repo/repository.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import { rotateAfterSeconds } from '../../src/binlog/shipper.js';
import { WindowSampler, type WindowCpu } from './window-sampler.js';
import type { Dataset } from './dataset.js';
import { LoadWriter, type LoadMarks, type TxShape } from './binlog-load.js';

/** Writer transactions per second; each holds rowsPerSecond / this many rows. */
const TX_PER_SECOND = 10;

export interface LagOptions {
  cli: { argv: string[]; env: Record<string, string> };
  /** Environment of the dbops commands (repository, keys, source, spool). */
  env: Record<string, string>;
  dataset: Dataset;
  repoUrl: string;
  marks: LoadMarks;
  seconds: number;
  rowsPerSecond: number;
  maxLagSeconds: number;
  /** binlog.partialSegments for the shipper. */
  partialSegments: boolean;
  /** The source server's pid, for its CPU. */
  sourcePid: number;
  logFile: string;
  log: (text: string) => void;
  onCleanup: (fn: () => Promise<void>) => void;
  /** Ctrl-C: stop writing and waiting, then stop the shipper as usual. */
  interrupted: () => boolean;
}

export interface LagSample {
  /** Seconds since the writer started, when the status was read. */
  at: number;
  /** As the product reports it (whole seconds, rounded). */
  lagSeconds: number;
  /** The same, unrounded: when the status was read − caughtUpTo (event times are whole seconds, so this overstates by < 1 s). */
  exactSeconds: number;
  /** How long reading the status took. */
  statusSeconds: number;
}

export interface LagResult {
  maxLagSeconds: number;
  partialSegments: boolean;
  rotateAfterSeconds: number;
  seconds: number;
  rowsPerSecond: number;
  shape: TxShape & { transactionsPerSecond: number };
  written: { transactions: number; rows: number; seconds: number; rowsPerSecond: number; slowestTxSeconds: number; behindSeconds: number };
  samples: LagSample[];
  failedSamples: number;
  /** Percentiles of lagSeconds, and of exactSeconds. */
  p50: number | null;
  p99: number | null;
  max: number | null;
  exact: { p50: number | null; p99: number | null; max: number | null };
  /** Files the continuous shipper shipped (its --json on exit). */
  shippedFiles: number;
  /** The shipper's FLUSH BINARY LOGS to bound the lag, and its partial segments (its --json on exit), over the run. */
  forcedRotations: number | null;
  partials: number | null;
  /** forcedRotations per minute of the shipper's run (writer, drain and the quiet start). */
  rotationsPerMinute: number | null;
  /** Binlog files the source gained over the run (every rotation, forced or not). */
  sourceFilesAdded: number;
  /** CPU over the writer's run: the shipper's tree, the source server, the rest of the machine. */
  cpu: WindowCpu | null;
  /** From the writer's stop until the source's last GTID was in a shipped segment. */
  drainSeconds: number | null;
  shipperExitCode: number | null;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function dumpThreads(db: MysqlClient): Promise<number> {
  const rows = await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
  return Number(rows[0]?.n ?? 0);
}

export async function runLagBench(o: LagOptions): Promise<LagResult> {
  const env = { ...o.env, ...o.cli.env, DBOPS_BINLOG_MAX_LAG_SECONDS: String(o.maxLagSeconds), DBOPS_BINLOG_PARTIAL_SEGMENTS: String(o.partialSegments) };
  const repo = await openRepository(await openStorage(o.repoUrl));
  const sources = await repo.binlogs.sources();
  if (sources.length !== 1) throw new Error(`expected one binlog source in ${o.repoUrl}, found ${sources.length}`);
  const sourceId = sources[0]!;
  const status = async (): Promise<{ lagSeconds: number; exactSeconds: number } | null> => {
    const s = await shippingStatus(repo, sourceId);
    const read = Date.now();
    if (s.lagSeconds === null || !s.caughtUpTo) return null;
    return { lagSeconds: s.lagSeconds, exactSeconds: Math.max(0, (read - Date.parse(s.caughtUpTo)) / 1000) };
  };

  const db = await MysqlClient.connect(o.dataset.conn);
  const sourceFiles = async (): Promise<number> => (await db.query('SHOW BINARY LOGS')).length;
  const filesBefore = await sourceFiles();
  let sampler: WindowSampler | undefined;
  let shipper: ResultPromise | undefined;
  const stopShipper = async (): Promise<void> => {
    if (shipper && shipper.exitCode === null) {
      shipper.kill('SIGKILL');
      await shipper.catch(() => undefined);
    }
  };
  o.onCleanup(stopShipper);
  try {
    shipper = execa(process.execPath, [...o.cli.argv, 'binlog', 'ship', '--json'], {
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: { file: o.logFile, append: true },
    });
    let exited = false;
    void shipper.then(() => (exited = true));
    const shipperStarted = performance.now();
    sampler = new WindowSampler(o.sourcePid, () => shipper?.pid).start();

    // Steady state before the writer starts: streaming, and caught up (its heartbeat).
    const t0 = Date.now();
    for (;;) {
      if (exited) throw new Error(`dbops binlog ship exited at start (exit ${shipper.exitCode}); see ${o.logFile}`);
      if (o.interrupted()) throw new Error('interrupted');
      if (Date.now() - t0 > 60_000) throw new Error(`dbops binlog ship did not catch up within 60 s; see ${o.logFile}`);
      if ((await dumpThreads(db)) > 0) {
        const lag = await status();
        if (lag !== null && lag.lagSeconds <= 2) break;
      }
      await sleep(500);
    }
    o.log(`  shipper streaming and caught up after ${((Date.now() - t0) / 1000).toFixed(1)} s; writer and sampling start`);

    // The writer: TX_PER_SECOND transactions a second on a fixed clock (late ones catch up, none skipped).
    const perTx = Math.max(1, Math.round(o.rowsPerSecond / TX_PER_SECOND));
    const shape: TxShape = { pageviews: Math.max(1, Math.round(perTx * 0.8)), events: perTx - Math.max(1, Math.round(perTx * 0.8)) };
    const writer = await LoadWriter.open(o.dataset.conn, o.marks);
    const interval = 1000 / TX_PER_SECOND;
    const total = Math.round(o.seconds * TX_PER_SECOND);
    const started = performance.now();
    const startedAt = Date.now();
    let slowest = 0;
    let writing = true;
    const writes = (async () => {
      try {
        for (let k = 0; k < total && !o.interrupted(); k++) {
          const wait = started + k * interval - performance.now();
          if (wait > 0) await sleep(wait);
          const a = performance.now();
          await writer.transaction(shape);
          slowest = Math.max(slowest, (performance.now() - a) / 1000);
        }
      } finally {
        writing = false;
      }
    })();
    const samples: LagSample[] = [];
    let failedSamples = 0;
    const sampling = (async () => {
      while (writing) {
        const a = performance.now();
        const lag = await status().catch(() => null);
        const b = performance.now();
        if (lag === null) failedSamples++;
        else {
          samples.push({ at: Math.round((b - started) / 10) / 100, lagSeconds: lag.lagSeconds, exactSeconds: Math.round(lag.exactSeconds * 1000) / 1000, statusSeconds: Math.round(b - a) / 1000 });
          if (samples.length % 15 === 0) o.log(`    ${((b - started) / 1000).toFixed(0)} s: lag ${lag.lagSeconds} s`);
        }
        const rest = 1000 - (performance.now() - a);
        if (rest > 0 && writing) await sleep(rest);
      }
    })();
    try {
      await writes;
    } finally {
      writing = false;
      await sampling;
      await writer.close();
    }
    const writeSeconds = (performance.now() - started) / 1000;
    const cpu = sampler.window(startedAt, Date.now());
    const written = {
      transactions: writer.transactions,
      rows: writer.rows,
      seconds: writeSeconds,
      rowsPerSecond: writer.rows / writeSeconds,
      slowestTxSeconds: slowest,
      behindSeconds: Math.max(0, writeSeconds - o.seconds),
    };
    o.log(`    writer: ${written.rows} rows in ${written.transactions} transactions over ${writeSeconds.toFixed(1)} s (${written.rowsPerSecond.toFixed(0)} rows/s)`);

    // Drain: the source's last transaction reaches the repository (a whole file, or with
    // partial segments the newest part of the active one).
    const gtid = String((await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]?.g ?? '');
    const drainStart = performance.now();
    let drainSeconds: number | null = null;
    while (performance.now() - drainStart < (o.maxLagSeconds * 3 + 30) * 1000 && !o.interrupted()) {
      const { segments } = await repo.binlogs.chainSegments(sourceId);
      if (segments.at(-1)?.gtid.atEnd === gtid) {
        drainSeconds = (performance.now() - drainStart) / 1000;
        break;
      }
      await sleep(250);
    }

    // SIGTERM: the shipper ships what is closed and must exit 0.
    shipper.kill('SIGTERM');
    const done = await Promise.race([shipper, sleep(60_000).then(() => null)]);
    if (!done) throw new Error(`dbops binlog ship did not exit within 60 s of SIGTERM; see ${o.logFile}`);
    const shipperMinutes = (performance.now() - shipperStarted) / 60_000;
    if (o.interrupted()) throw new Error('interrupted');
    let shippedFiles = 0;
    let forcedRotations: number | null = null;
    let partials: number | null = null;
    try {
      const out = JSON.parse(String(done.stdout)) as { shipped: string[]; forcedRotations?: number; partials?: number };
      shippedFiles = out.shipped.length;
      forcedRotations = out.forcedRotations ?? null;
      partials = out.partials ?? null;
    } catch {
      // no JSON: the exit code below says why
    }
    const lags = samples.map((s) => s.lagSeconds);
    const exact = samples.map((s) => s.exactSeconds);
    return {
      maxLagSeconds: o.maxLagSeconds,
      partialSegments: o.partialSegments,
      rotateAfterSeconds: rotateAfterSeconds(o.maxLagSeconds, o.partialSegments),
      seconds: o.seconds,
      rowsPerSecond: o.rowsPerSecond,
      shape: { ...shape, transactionsPerSecond: TX_PER_SECOND },
      written,
      samples,
      failedSamples,
      p50: percentile(lags, 50),
      p99: percentile(lags, 99),
      max: lags.length ? Math.max(...lags) : null,
      exact: { p50: percentile(exact, 50), p99: percentile(exact, 99), max: exact.length ? Math.max(...exact) : null },
      shippedFiles,
      forcedRotations,
      partials,
      rotationsPerMinute: forcedRotations === null ? null : forcedRotations / shipperMinutes,
      sourceFilesAdded: (await sourceFiles()) - filesBefore,
      cpu,
      drainSeconds,
      shipperExitCode: done.exitCode ?? null,
    };
  } finally {
    sampler?.stop();
    await stopShipper();
    await db.close();
  }
}
