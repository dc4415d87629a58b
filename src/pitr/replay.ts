// Applies a planned binlog chain to the target: ONE `mariadb-binlog --start-position=P
// file1 … fileN [--stop-position=Q]` decode (run with TZ=UTC) piped into ONE client
// session, so temporary tables and session state survive file boundaries exactly as they
// did on the source. Credentials go through a defaults file; the decrypted files live in
// the private segment cache. The scope filter between the two leaves out account changes
// unless --accounts, and with a scope (one database or table, maybe renamed) all else.
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { MysqlConn } from '../mysql/connection-url.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { processIo } from '../util/proc-io.js';
import { InterruptedError, OperationError, ToolError } from '../errors.js';
import type { PitrPlan } from './plan.js';
import { ScopeFilter } from './scope-filter.js';
import { parseTableRef } from '../restore/select-parts.js';

export interface ReplayTools {
  binlog: string;
  client: string;
}

export interface ReplayResult {
  /** Decoded SQL bytes sent to the client. */
  sqlBytes: number;
  /** Binlog bytes read from the chain (the ranges replayed). */
  binlogBytes: number;
  seconds: number;
}

/** The decoder's arguments (pure, for tests): files are local paths, in chain order. */
export function binlogArgs(plan: PitrPlan, paths: string[]): string[] {
  const first = plan.chain[0]!;
  const last = plan.chain.at(-1)!;
  const args = ['--no-defaults', `--start-position=${first.from}`];
  if (last.to < last.rawBytes) args.push(`--stop-position=${last.to}`);
  const into = plan.scope.intoSchema;
  const db = plan.scope.table ? parseTableRef(plan.scope.table).database : plan.scope.database;
  if (into !== undefined && db !== undefined && into !== db) args.push(`--rewrite-db=${db}->${into}`);
  args.push(...paths);
  return args;
}

export interface ReplayOptions {
  plan: PitrPlan;
  paths: string[];
  target: MysqlConn;
  tools: ReplayTools;
  /** Write the replay into the target's binlog (default off, like restore). */
  binlog?: boolean;
  signal?: AbortSignal;
  /** Binlog bytes the decoder has read so far (from /proc, about once a second; Linux only). */
  onProgress?: (binlogBytes: number) => void;
}

export async function replayChain(o: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const result: ReplayResult = { sqlBytes: 0, binlogBytes: o.plan.chain.reduce((n, c) => n + (c.to - c.from), 0), seconds: 0 };
  if (o.plan.chain.length === 0) return result;
  await (async () => {
    // mariadb-binlog reads local files only: no credentials, and its local time zone pinned to UTC.
    const decoder = startTool(o.tools.binlog, binlogArgs(o.plan, o.paths), { env: { TZ: 'UTC' }, bufferStdout: true });
    const client = startTool(o.tools.client, ['--batch', '--binary-mode', '--max-allowed-packet=1G'], { credentials: o.target });
    const decoderDone = waitTool(decoder, 'mariadb-binlog');
    const clientDone = waitTool(client, 'mysql client');
    decoderDone.catch(() => undefined);
    clientDone.catch(() => undefined);
    const onAbort = (): void => {
      decoder.kill('SIGTERM');
      client.kill('SIGTERM');
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const total = result.binlogBytes;
    const ticker = o.onProgress
      ? setInterval(() => {
          const io = processIo(decoder.pid);
          if (io) o.onProgress!(Math.min(total, io.read));
        }, 1000)
      : undefined;
    try {
      if (!o.binlog) client.stdin.write('SET SESSION sql_log_bin=0;\n');
      let input: Readable = decoder.stdout;
      const scoped = o.plan.scope.database !== undefined || o.plan.scope.table !== undefined;
      if (scoped || !o.plan.scope.accounts) input = decoder.stdout.pipe(new ScopeFilter(o.plan.scope));
      for await (const chunk of input) {
        result.sqlBytes += (chunk as Buffer).length;
        if (!client.stdin.write(chunk)) await Promise.race([once(client.stdin, 'drain'), clientDone]);
      }
      client.stdin.end();
      await Promise.all([decoderDone, clientDone]);
    } catch (err) {
      decoder.kill('SIGKILL');
      client.kill('SIGKILL');
      await Promise.allSettled([decoderDone, clientDone]);
      if (o.signal?.aborted) throw new InterruptedError(String(o.signal.reason ?? 'signal'));
      const msg = err instanceof ToolError ? err.message : (err as Error).message;
      throw new OperationError(`binlog replay failed (${msg}): the target holds the base backup and part of the replay; restore again after fixing the cause`, { cause: err });
    } finally {
      if (ticker) clearInterval(ticker);
      o.signal?.removeEventListener('abort', onAbort);
    }
  })();
  o.onProgress?.(result.binlogBytes);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
