// The logical kind: one consistent mysqldump, split into parts (one per table or sequence,
// plus per-database sections); on MariaDB the largest tables by dumps of their own at the
// same point in time (parallel-dump.ts), writing through their own pipes; the accounts as a
// part of their own. Every part goes through the run's one sink.
import { DumpSplitter } from '../dump/dump-splitter.js';
import { dumpAccounts } from './accounts.js';
import { schemaInventory } from './schema-inventory.js';
import { withConnection } from '../mysql/client.js';
import { readServerInfo } from '../mysql/server-info.js';
import { flavorProfile, resolveTools } from '../mysql/flavor.js';
import { dumpArgs } from './dump-args.js';
import { CommitBlock, ignoreTableArgs, pickTableDumps, tableDumpArgs, type StartedTableDump, type TableDump } from './parallel-dump.js';
import { BINLOG_OFF_WARNING } from '../manifest/point-in-time.js';
import type { Repository } from '../repo/repository.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { InterruptedError, OperationError, UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import { coalesce } from '../util/coalesce.js';
import type { BackupKind, BackupOptions, Inspection, ProduceContext, Produced } from './backup-kind.js';

/** Dump bytes handed to the splitter at a time (see coalesce.ts). */
const DUMP_BLOCK_BYTES = 1 << 20;

interface LogicalInspection extends Inspection {
  tableDumps: TableDump[];
  accounts?: { sql: string; count: number };
  dumpTool: string;
}

export const logicalBackup: BackupKind<LogicalInspection> = {
  kind: 'logical',

  inspect: (options) =>
    withConnection(options.source, async (db) => {
      const info = await readServerInfo(db);
      const existing = await db.listUserDatabases();
      let databases: string[];
      if (options.databases.length) {
        const missing = options.databases.filter((d) => !existing.includes(d));
        if (missing.length) throw new UsageError(`database ${missing.map((m) => `"${m}"`).join(', ')} does not exist on the source; existing: ${existing.join(', ') || '(none)'}`);
        databases = [...options.databases];
      } else {
        databases = existing;
      }
      if (databases.length === 0) throw new UsageError('the source has no user database to back up; create one or check source.url');
      const warnings: string[] = [];
      const nonTx = await db.nonTransactionalTables(databases);
      if (nonTx.length) {
        const names = nonTx.slice(0, 5).map((t) => `${t.database}.${t.table} (${t.engine})`).join(', ');
        const msg = `${nonTx.length} non-transactional table(s) are not covered by the consistent snapshot: ${names}${nonTx.length > 5 ? ', …' : ''}`;
        warnings.push(msg);
        log.warn({ tables: nonTx.length }, msg);
      }
      if (!info.logBin) {
        warnings.push(BINLOG_OFF_WARNING);
        log.warn(BINLOG_OFF_WARNING);
      }
      const accounts = options.includeAccounts ? await dumpAccounts(db) : undefined;
      const objects = await schemaInventory(db, databases);
      const tableDumps = await pickTableDumps(db, info, databases);
      const sized = await db.query<{ n: number | string | null }>('SELECT SUM(DATA_LENGTH) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?)', [databases]);
      const schemaBytes = Number(sized[0]?.n ?? 0);
      const dumpTool = resolveTools(flavorProfile(info)).dump;
      return {
        info,
        databases,
        warnings,
        objects,
        tableDumps,
        dumpTool,
        tools: { dump: dumpTool },
        estimate: () => estimateRawBytes(options.repo, databases, schemaBytes),
        ...(accounts ? { accounts } : {}),
      };
    }),

  async produce(options, inspected, ctx) {
    const split = await dumpIntoParts(options, inspected, ctx);
    if (inspected.accounts) await ctx.sink.store({ kind: 'accounts' }, Buffer.from(inspected.accounts.sql), inspected.accounts.count);
    const warnings: string[] = [];
    if (!split.coordinates.binlogFile && inspected.info.logBin) warnings.push('the dump recorded no binlog position: point-in-time recovery from this backup is not possible');
    return {
      consistentPoint: {
        binlogFile: split.coordinates.binlogFile ?? null,
        binlogPosition: split.coordinates.binlogPosition ?? null,
        gtidSet: split.coordinates.gtidSet ?? null,
      },
      warnings,
    } satisfies Produced;
  },
};

/** The main dump through the splitter, the largest tables through their own dumps, all at one point. */
async function dumpIntoParts(options: BackupOptions, inspected: LogicalInspection, ctx: ProduceContext): Promise<Awaited<ReturnType<DumpSplitter['finish']>>> {
  const { info, databases, tableDumps, dumpTool } = inspected;
  const splitter = new DumpSplitter(ctx.sink);
  try {
    // zstd and age for each table dump start first: commits are blocked only while the
    // dumps themselves start.
    const uploads: Array<Awaited<ReturnType<ProduceContext['sink']['produced']>>> = [];
    for (const t of tableDumps) uploads.push(await ctx.sink.produced({ kind: 'table', database: t.database, table: t.table }, `mariadb-dump of ${t.database}.${t.table}`));
    const block = tableDumps.length ? await CommitBlock.take(options.source) : undefined;
    if (!block) for (const u of uploads.splice(0).reverse()) await u.drop();
    try {
      const ownDumps = block ? tableDumps : [];
      const fullArgs = dumpArgs(info, databases);
      const started: StartedTableDump[] = ownDumps.map((t, i) => {
        const proc = uploads[i]!.upload.startProducer((stdoutFd) => startTool(dumpTool, tableDumpArgs(fullArgs, t), { stdout: stdoutFd, bufferStdout: true, credentials: options.source }));
        ctx.watch(proc.pid);
        proc.stdin.end();
        const exited = waitTool(proc, `mariadb-dump of ${t.database}.${t.table}`);
        exited.catch(() => undefined);
        return { table: t, exited };
      });
      if (ownDumps.length) log.info({ tables: ownDumps.map((t) => `${t.database}.${t.table}`) }, 'largest tables dumped by their own processes');
      const args = dumpArgs(info, databases, ignoreTableArgs(ownDumps));
      const dump = startTool(dumpTool, args, { bufferStdout: true, credentials: options.source });
      dump.stdin.end();
      ctx.started();
      const onAbort = (): void => void dump.kill('SIGTERM');
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const dumpDone = waitTool(dump, 'mariadb-dump/mysqldump');
      dumpDone.catch(() => undefined);
      let mainStarted!: () => void;
      const firstBytes = new Promise<void>((resolve) => (mainStarted = resolve));
      // Commits resume as soon as every dump has its snapshot, while the dumps go on.
      const snapshots = block?.waitForSnapshots(started, Promise.race([firstBytes, dumpDone])).finally(() => block.release());
      snapshots?.catch(() => undefined);
      try {
        let bytes = 0;
        for await (const chunk of coalesce(dump.stdout as AsyncIterable<Buffer>, DUMP_BLOCK_BYTES)) {
          if (bytes === 0) mainStarted();
          bytes += chunk.length;
          await splitter.push(chunk);
          ctx.wrote(bytes);
        }
        await dumpDone;
        await snapshots;
      } catch (err) {
        dump.kill('SIGKILL');
        await dumpDone.catch(() => undefined);
        throw err;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
      if (options.signal?.aborted) throw new InterruptedError(String(options.signal.reason ?? 'signal'));
      const result = await splitter.finish();
      if (!result.completed) throw new OperationError('the dump ended without its "Dump completed" trailer: it was truncated; no backup was recorded');
      block?.checkSamePoint(result.coordinates);
      return result;
    } finally {
      await block?.release();
    }
  } catch (err) {
    splitter.abort(err as Error);
    throw err;
  }
}

/** The previous backup's raw size when it holds the same databases (the best guess), else the schema's. */
async function estimateRawBytes(repo: Repository, databases: readonly string[], schemaBytes: number): Promise<number> {
  try {
    const previous = await repo.backups.resolve('latest');
    const same = previous.kind === 'logical' && previous.databases.length === databases.length && previous.databases.every((d) => databases.includes(d));
    if (same) return previous.totals.rawBytes;
  } catch {
    // no backup yet, or none that verifies: the schema's estimate
  }
  return schemaBytes;
}
