// The physical kind: mariadb-backup (MySQL: xtrabackup) copies the server's datadir while it
// runs and streams it as xbstream straight into zstd (a producer part: node never sees the
// bytes), so a backup costs about what the tool alone does. The tool reads the datadir, so it
// runs where the datadir is: on the database host, or with the datadir mounted (read-only)
// into the daemon's container, named by backup.datadir when its path differs from the
// server's. It copies every database of the server (and the mysql schema, so the accounts).
// An incremental copies only pages newer than the newest physical backup of the source and
// records it as its parent; restore applies the chain in order (restore/physical-restore.ts).
// The LSN range and the binlog point come from the files the tool leaves in --extra-lsndir.
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withConnection } from '../mysql/client.js';
import { readServerInfo } from '../mysql/server-info.js';
import { schemaInventory } from './schema-inventory.js';
import { BINLOG_OFF_WARNING } from '../manifest/point-in-time.js';
import { physicalOf, type BackupManifest, type PhysicalInfo } from '../manifest/backup-manifest.js';
import { physicalChain } from '../physical/chain.js';
import { backupArgs, physicalToolFor, resolvePhysicalTools, type PhysicalTools } from '../physical/tools.js';
import { CHECKPOINT_FILES, INFO_FILES, parseBinlogPosition, parseCheckpoints, type Checkpoints } from '../physical/checkpoints.js';
import { readCurrentLsn } from '../physical/current-lsn.js';
import { startTool } from '../util/tool-process.js';
import { OperationError, ToolError, UsageError, VerificationError } from '../errors.js';
import { log } from '../util/logger.js';
import type { BackupKind, BackupOptions, Inspection } from './backup-kind.js';
import type { Repository } from '../repo/repository.js';

interface PhysicalInspection extends Inspection {
  datadir: string;
  programs: PhysicalTools;
  /** An incremental's parent and the full its chain starts with. */
  parent?: BackupManifest;
  base?: BackupManifest;
}

export const physicalBackup: BackupKind<PhysicalInspection> = {
  kind: 'physical',

  async inspect(options) {
    const found = await withConnection(options.source, async (db) => {
      const info = await readServerInfo(db);
      const databases = await db.listUserDatabases();
      const objects = await schemaInventory(db, databases);
      const [row] = await db.query<{ datadir: string }>('SELECT @@GLOBAL.datadir AS datadir');
      // A full's progress total, which opens every table's statistics: an incremental's size
      // is not knowable up front, so it does not ask.
      const [size] = options.incremental || !options.onEstimate ? [] : await db.query<{ bytes: number | string | null }>('SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS bytes FROM information_schema.TABLES');
      const currentLsn = options.incremental ? await readCurrentLsn(db) : undefined;
      return { info, databases, objects, serverDatadir: row!.datadir, tableBytes: size ? Number(size.bytes ?? 0) : undefined, currentLsn };
    });
    const { info } = found;
    if (options.databases.length) log.info({ databases: options.databases }, 'a physical backup copies every database of the server: source.databases applies to logical backups only');
    const programs = resolvePhysicalTools(physicalToolFor(info.flavor));
    const datadir = options.datadir ?? found.serverDatadir;
    await checkDatadir(datadir, options.datadir !== undefined);
    const warnings: string[] = [];
    if (!info.logBin) {
      warnings.push(BINLOG_OFF_WARNING);
      log.warn(BINLOG_OFF_WARNING);
    }
    const chain = found.currentLsn !== undefined ? await chainToExtend(options, info.serverUuid, found.currentLsn, warnings) : undefined;
    return {
      info,
      databases: found.databases,
      warnings,
      objects: found.objects,
      datadir,
      programs,
      tools: { [programs.tool]: programs.backup },
      ...(chain ? { parent: chain.at(-1)!, base: chain[0]!, follows: chain.at(-1)!.id } : {}),
      // A full copies the tablespaces (and a little more).
      estimate: async () => found.tableBytes,
    };
  },

  async produce(options, inspected, ctx) {
    const scratch = await mkdtemp(join(tmpdir(), 'dbops-physical-'));
    try {
      const targetDir = join(scratch, 'target');
      const lsnDir = join(scratch, 'lsn');
      await Promise.all([mkdir(targetDir), mkdir(lsnDir)]);
      const fromLsn = inspected.parent ? physicalOf(inspected.parent).toLsn : undefined;
      const program = inspected.programs.tool;
      const part = await ctx.sink.produced({ kind: 'xbstream' }, program);
      let printed = '';
      const proc = part.upload.startProducer((stdoutFd) =>
        startTool(inspected.programs.backup, backupArgs({ targetDir, extraLsnDir: lsnDir, datadir: inspected.datadir, ...(fromLsn !== undefined ? { incrementalLsn: fromLsn } : {}) }), {
          stdout: stdoutFd,
          credentials: options.source,
          stderrLines: (line) => {
            if (/binlog position: filename/.test(line)) printed = line;
          },
        }),
      );
      proc.stdin.end();
      ctx.watch(proc.pid);
      ctx.started();
      await part.upload.produced();
      const checkpoints = await readCheckpoints(lsnDir, program);
      const wanted = fromLsn ?? '0';
      if (checkpoints.fromLsn !== wanted) {
        throw new OperationError(`${program} copied pages from LSN ${checkpoints.fromLsn}, not ${wanted} as asked: no backup was recorded`);
      }
      const info = await readFirst(lsnDir, INFO_FILES);
      const point = parseBinlogPosition(info ?? printed);
      const warnings: string[] = [];
      if (!point.binlogFile && inspected.info.logBin) warnings.push(`${program} recorded no binlog position: point-in-time recovery from this backup is not possible`);
      const physical: PhysicalInfo = {
        tool: program,
        fromLsn: checkpoints.fromLsn,
        toLsn: checkpoints.toLsn,
        lastLsn: checkpoints.lastLsn,
        parent: inspected.parent?.id ?? null,
        base: inspected.base?.id ?? null,
      };
      log.info({ backupId: ctx.id, ...physical, binlog: point.binlogFile ? `${point.binlogFile}:${point.binlogPosition}` : null }, 'physical copy complete');
      return { consistentPoint: point, warnings, physical };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },

  async beforeCommit(options, inspected) {
    if (!inspected.parent) return;
    // Prune keeps what a kept backup depends on, but this incremental is not in the
    // repository yet: make sure the backup it applies on was not removed meanwhile.
    try {
      await options.repo.backups.read(inspected.parent.id);
    } catch (err) {
      if (!(err instanceof UsageError || err instanceof VerificationError)) throw err;
      throw new OperationError(`backup ${inspected.parent.id}, which this incremental applies on, is gone or damaged (${err.message}): no backup was recorded; take a full physical backup`, { cause: err });
    }
  },
};

/** The tool reads the datadir itself: say clearly when it cannot, before it starts. */
async function checkDatadir(datadir: string, configured: boolean): Promise<void> {
  try {
    await access(datadir, constants.R_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `the source's datadir ${datadir} is ${code === 'ENOENT' ? 'not here' : 'not readable by this user'}: a physical backup runs where the datadir is (on the database host, or with it mounted read-only into this container${configured ? '' : ' and backup.datadir naming the mount'}), as a user that may read it (e.g. in the mysql group)`,
    );
  }
}

/** How an incremental's warning ends when, with fullWhenNoBase, it took a full backup instead. */
export const FULL_INSTEAD = 'took a full physical backup instead';

/**
 * The chain an incremental applies on: the newest physical backup of this source and what it
 * applies on. With nothing to apply on, an error that says to take a full, or with
 * fullWhenNoBase none (a full is taken) and the reason in `warnings`.
 */
async function chainToExtend(options: BackupOptions, serverUuid: string, currentLsn: bigint, warnings: string[]): Promise<BackupManifest[] | undefined> {
  const base = await newestChain(options.repo, serverUuid, currentLsn);
  if ('chain' in base) return base.chain;
  if (options.fullWhenNoBase) {
    const warning = `${base.missing}: ${FULL_INSTEAD}`;
    warnings.push(warning);
    log.warn(warning);
    return undefined;
  }
  if (base.damage) throw new VerificationError(`${base.missing}; take a full physical backup`, base.damage.object, { cause: base.damage });
  throw new UsageError(`${base.missing}: take a full one first (dbops backup --kind physical)`);
}

/** The newest physical backup of this source and the chain it ends, or why there is none to build on. */
async function newestChain(repo: Repository, serverUuid: string, currentLsn: bigint): Promise<{ chain: BackupManifest[] } | { missing: string; damage?: VerificationError }> {
  const newest = await newestPhysical(repo, serverUuid);
  if (!newest) return { missing: `no physical backup of this source in ${repo.storage.location} to apply an incremental on` };
  let chain: BackupManifest[];
  try {
    chain = await physicalChain(repo, newest);
  } catch (err) {
    if (!(err instanceof VerificationError)) throw err;
    return { missing: `the newest physical backup ${newest.id} cannot be built on: ${err.message}`, damage: err };
  }
  // The incremental would copy the pages newer than the chain's end: on a datadir that went
  // back, what it changed below that LSN would be missed.
  const end = physicalOf(newest).lastLsn;
  if (currentLsn < BigInt(end)) {
    return { missing: `the source's redo log is at LSN ${currentLsn}, behind the end of the newest physical backup ${newest.id} (LSN ${end}): its datadir was replaced or restored since, so no incremental applies on that chain` };
  }
  return { chain };
}

/**
 * Manifests read newest first (ids sort by time) until one is a physical backup of this
 * source: an incremental reads its chain, not every manifest of the repository. A manifest
 * that does not verify is passed over, as `list` marks it and nothing restores from it.
 */
async function newestPhysical(repo: Repository, serverUuid: string): Promise<BackupManifest | undefined> {
  const ids = await repo.backups.ids();
  for (const id of ids.reverse()) {
    let manifest: BackupManifest;
    try {
      manifest = await repo.backups.read(id);
    } catch (err) {
      if (err instanceof VerificationError) continue;
      throw err;
    }
    if (manifest.kind === 'physical' && manifest.source.serverUuid === serverUuid) return manifest;
  }
  return undefined;
}

async function readFirst(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch {
      // the other name (MariaDB 11 renamed the files)
    }
  }
  return undefined;
}

async function readCheckpoints(dir: string, program: string): Promise<Checkpoints> {
  const text = await readFirst(dir, CHECKPOINT_FILES);
  const parsed = text === undefined ? undefined : parseCheckpoints(text);
  if (!parsed) throw new ToolError(program, `ended without writing its LSN range (${CHECKPOINT_FILES[0]}) into --extra-lsndir: no backup was recorded`);
  return parsed;
}
