// Applies a planned binlog chain to the target in one client session (the fallback of
// replay.ts): ONE `mariadb-binlog --start-position=P file1 … fileN [--stop-position=Q]`
// decode (run with TZ=UTC) piped into ONE client session, so temporary tables and session
// state survive file boundaries exactly as they did on the source. Credentials go through a defaults file; the decrypted files live in
// the private segment cache. The scope filter between the two leaves out account changes
// unless --accounts, and with a scope (one database or table, maybe renamed) all else.
import { once } from 'node:events';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { startTool, waitTool } from '../util/tool-process.js';
import { processIo } from '../util/proc-io.js';
import { InterruptedError, OperationError, ToolError } from '../errors.js';
import type { PitrPlan } from './plan.js';
import { ScopeFilter } from './scope-filter.js';
import { parseTableRef } from '../restore/select-parts.js';
import type { ReplayOptions } from './replay.js';

export interface ReplayTools {
  binlog: string;
  client: string;
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

/** Replays the chain in one decoder | client pipeline; resolves to the decoded SQL bytes sent. */
export async function sessionReplay(o: ReplayOptions & { tools: ReplayTools }): Promise<number> {
  const result = { sqlBytes: 0, binlogBytes: o.plan.chain.reduce((n, c) => n + (c.to - c.from), 0) };
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
    } catch (caught) {
      // A client that stops on an error closes its stdin: our write fails with EPIPE first,
      // but the client's own error (the statement and why) is the one to report.
      const epipe = (caught as NodeJS.ErrnoException).code === 'EPIPE';
      const [clientEnd] = epipe ? await Promise.allSettled([Promise.race([clientDone, sleepMs(5000)])]) : [];
      decoder.kill('SIGKILL');
      client.kill('SIGKILL');
      await Promise.allSettled([decoderDone, clientDone]);
      if (o.signal?.aborted) throw new InterruptedError(String(o.signal.reason ?? 'signal'));
      const err: unknown = clientEnd?.status === 'rejected' ? clientEnd.reason : caught;
      const msg = err instanceof ToolError ? err.message : (err as Error).message;
      throw new OperationError(`binlog replay failed (${msg}): the target holds the base backup and part of the replay; restore again after fixing the cause`, { cause: err });
    } finally {
      if (ticker) clearInterval(ticker);
      o.signal?.removeEventListener('abort', onAbort);
    }
  })();
  o.onProgress?.(result.binlogBytes);
  return result.sqlBytes;
}
