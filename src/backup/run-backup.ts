// A backup, of either kind, in three phases:
//   1. inspect  — the kind reads the source (server facts, databases, schema inventory): nothing is
//                 written, so a crash or failure here leaves nothing;
//   2. produce  — the kind makes its parts, every byte through the one BackupSink. A failure or
//                 interrupt stops every part's programs and removes what was written; a crash
//                 (kill -9) leaves objects under backups/<id>/parts/ with no manifest: they are not a
//                 backup (nothing lists or restores them) and prune removes them as an unfinished
//                 backup after retention.graceForIncomplete. A stream cannot be resumed, so this
//                 phase is abandoned, never guessed at;
//   3. commit   — the signed manifest, one atomic put, written LAST: before it the backup does not exist.
// Every outcome (committed, failed, interrupted) is recorded in the evidence log.
import { execa } from 'execa';
import { BackupSink } from './backup-sink.js';
import { newBackupId, backupManifestKey, backupPrefix } from '../storage/layout.js';
import { withEvidence } from '../repo/evidence-log.js';
import { documentBytes, sha256Hex } from '../repo/signed-document.js';
import { recipientFingerprint } from '../crypto/age.js';
import { PART_ORDER, type BackupManifest, type ManifestPart, type UnsignedManifest } from '../manifest/backup-manifest.js';
import { processIo } from '../util/proc-io.js';
import { InterruptedError } from '../errors.js';
import { log } from '../util/logger.js';
import { VERSION } from '../version.js';
import { logicalBackup } from './logical-backup.js';
import { physicalBackup } from './physical-backup.js';
import type { BackupKind, BackupOptions, Inspection, ProduceContext } from './backup-kind.js';
import type { StoredPart } from './backup-sink.js';

export type { BackupOptions } from './backup-kind.js';

/** Take a backup and record it (committed, failed or interrupted) in the evidence log. */
export async function runBackup(options: BackupOptions): Promise<BackupManifest> {
  return withEvidence(options.repo, { action: 'backup' }, () => takeBackup(options), (m) => ({
    subject: m.id,
    outcome: 'ok',
    summary: `${m.kind}${m.physical?.parent ? ' incremental' : ''} backup ${m.id} committed: ${m.databases.join(', ')}, ${m.parts.length} parts, ${m.totals.storedBytes} bytes stored`,
    details: {
      kind: m.kind,
      databases: m.databases,
      consistentPoint: m.consistentPoint,
      storedBytes: m.totals.storedBytes,
      labels: m.labels,
      ...(m.physical ? { parent: m.physical.parent, fromLsn: m.physical.fromLsn, toLsn: m.physical.toLsn } : {}),
    },
    refs: [{ key: backupManifestKey(m.id), sha256: sha256Hex(documentBytes(m)) }],
  }));
}

async function takeBackup(options: BackupOptions): Promise<BackupManifest> {
  return options.kind === 'physical' ? run(physicalBackup, options) : run(logicalBackup, options);
}

async function run<I extends Inspection>(kind: BackupKind<I>, options: BackupOptions): Promise<BackupManifest> {
  const startedAt = new Date();
  // 1. inspect
  const inspected = await kind.inspect(options);
  if (options.onEstimate) {
    const estimate = await inspected.estimate();
    if (estimate !== undefined) options.onEstimate(estimate);
  }
  const { info, databases } = inspected;
  let id = newBackupId(startedAt);
  // Ids order backups ("latest", retention, pitr's base) but have second precision: one
  // started in the second of the newest backup (or of the parent it applies on) waits for
  // the next second, else its random suffix could sort it before. A newest id from another
  // second (a clock set back) is no reason to wait.
  const after = [inspected.follows, (await options.repo.backups.ids()).at(-1)].filter((x): x is string => x !== undefined).sort().at(-1);
  const SECOND = 'YYYYMMDDTHHMMSSZ'.length;
  while (after !== undefined && id <= after && id.slice(0, SECOND) === after.slice(0, SECOND)) {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    id = newBackupId(new Date());
  }
  // Asked once the copy runs (the kind says when), in parallel with it: asked before it, their
  // three spawns would delay its start, and asked after the parts, they would add wall time.
  let versions: Promise<Record<string, string>> | undefined;
  const askVersions = (): Promise<Record<string, string>> => {
    if (!versions) {
      versions = toolVersions({ ...inspected.tools, zstd: 'zstd', age: 'age' });
      versions.catch(() => undefined);
    }
    return versions;
  };
  const storage = options.repo.storage;
  log.info({ backupId: id, kind: kind.kind, databases, flavor: info.flavor, version: info.version }, 'backup started');

  // 2. produce
  const sink = new BackupSink({ storage, backupId: id, recipients: options.recipients, compressionLevel: options.compressionLevel, compressionThreads: options.compressionThreads });
  // Interrupted: every part's programs stop at once.
  const interrupt = (): void => sink.interrupt(new InterruptedError(String(options.signal?.reason ?? 'signal')));
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const progress = new ProgressCount(options.onProgress);
  const ctx: ProduceContext = {
    id,
    sink,
    ...(options.signal ? { signal: options.signal } : {}),
    wrote: (n) => progress.wrote(n),
    watch: (pid) => progress.watch(pid),
    started: () => void askVersions(),
  };
  try {
    const produced = await kind.produce(options, inspected, ctx);
    const stored = await sink.finish();
    if (options.signal?.aborted) throw new InterruptedError(String(options.signal.reason ?? 'signal'));

    // 3. commit
    await kind.beforeCommit?.(options, inspected);
    const parts = stored.map(manifestPart).sort((a, b) => PART_ORDER[a.kind] - PART_ORDER[b.kind] || a.name.localeCompare(b.name));
    const tables = parts.filter((p) => p.kind === 'table');
    const unsigned: UnsignedManifest = {
      id,
      repositoryId: options.repo.config.id,
      kind: kind.kind,
      ...(produced.physical ? { physical: produced.physical } : {}),
      startedAt: startedAt.toISOString(),
      completedAt: new Date().toISOString(),
      source: {
        flavor: info.flavor,
        version: info.version,
        serverUuid: info.serverUuid,
        serverId: info.serverId,
        gtidMode: info.gtidMode,
        host: options.source.socket ? `socket:${options.source.socket}` : `${options.source.host}:${options.source.port}`,
      },
      consistentPoint: produced.consistentPoint,
      databases: [...databases],
      tools: await askVersions(),
      encryption: { format: 'age', recipients: options.recipients.map(recipientFingerprint) },
      compression: { format: 'zstd', level: options.compressionLevel },
      parts,
      totals: {
        rawBytes: parts.reduce((s, p) => s + p.rawBytes, 0),
        storedBytes: parts.reduce((s, p) => s + p.storedBytes, 0),
        // A physical copy counts no rows; a dump's parts each tell theirs, unless one could not.
        rows: kind.kind === 'physical' || tables.some((p) => p.rows === null) ? null : tables.reduce((s, p) => s + (p.rows ?? 0), 0),
      },
      warnings: [...inspected.warnings, ...produced.warnings],
      objects: inspected.objects,
      labels: options.labels ?? {},
    };
    if (options.signal?.aborted) throw new InterruptedError(String(options.signal.reason ?? 'signal'));
    // The commit point: before this put the backup does not exist.
    const manifest = await options.repo.backups.commit(unsigned);
    log.info({ backupId: id, kind: kind.kind, rawBytes: manifest.totals.rawBytes, storedBytes: manifest.totals.storedBytes, parts: parts.length }, 'backup committed');
    return manifest;
  } catch (err) {
    const error = options.signal?.aborted && !(err instanceof InterruptedError) ? new InterruptedError(String(options.signal.reason ?? 'signal')) : (err as Error);
    const cleanup = await sink.abortAll(error);
    if (storage.lock) {
      log.error({ backupId: id, err: error.message }, 'backup failed; no manifest was written (parts already uploaded stay until their Object Lock ends, then prune removes them as an unfinished backup)');
    } else if (cleanup.notRemoved.length === 0) {
      log.error({ backupId: id, err: error.message }, 'backup failed; its parts were removed and no manifest was written');
    } else {
      // A removal can fail for a key that was never written (the store is unreachable), so
      // this is what MAY be left; prune finds what is actually there.
      const n = cleanup.notRemoved.length;
      log.error(
        { backupId: id, err: error.message, notRemoved: n, prefix: backupPrefix(id), removeError: cleanup.problem },
        `backup failed; no manifest was written, but ${n} of its objects could not be removed (${cleanup.problem}) and may be left under ${backupPrefix(id)}: it is not a backup, and "dbops prune --apply" removes them as an unfinished backup once they are older than retention.graceForIncomplete`,
      );
    }
    throw error;
  } finally {
    progress.stop();
    options.signal?.removeEventListener('abort', interrupt);
  }
}

function manifestPart(p: StoredPart): ManifestPart {
  return {
    name: p.name,
    key: p.object.key,
    kind: p.kind,
    ...(p.database !== undefined ? { database: p.database } : {}),
    ...(p.table !== undefined ? { table: p.table } : {}),
    rows: p.rows,
    rawBytes: p.object.raw.bytes,
    rawSha256: p.object.raw.sha256,
    storedBytes: p.object.stored.bytes,
    storedSha256: p.object.stored.sha256,
    ...(p.object.segments ? { segments: p.object.segments.map((s) => ({ key: s.key, storedBytes: s.size })) } : {}),
  };
}

/**
 * Raw bytes so far: what we wrote, plus what producer programs wrote straight into zstd
 * (asked of /proc once a second while any runs, since their bytes never reach us).
 */
class ProgressCount {
  private readonly pids: number[] = [];
  private readonly produced = new Map<number, number>();
  private written = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly report: ((rawBytes: number) => void) | undefined) {}

  wrote(total: number): void {
    this.written = total;
    if (!this.ticker) this.report?.(total);
  }

  watch(pid: number | undefined): void {
    if (pid === undefined || !this.report) return;
    this.pids.push(pid);
    this.ticker ??= setInterval(() => this.tick(), 1000);
  }

  private tick(): void {
    for (const pid of this.pids) {
      const io = processIo(pid);
      if (io) this.produced.set(pid, Math.max(this.produced.get(pid) ?? 0, io.written));
    }
    this.report?.(this.written + [...this.produced.values()].reduce((a, b) => a + b, 0));
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
  }
}

/** `--version` of each program (first line), by the name the manifest records it under. */
async function toolVersions(tools: Record<string, string>): Promise<Record<string, string>> {
  const first = async (file: string): Promise<string> => {
    try {
      const r = await execa(file, ['--version'], { reject: false, timeout: 5000 });
      return (r.stdout || r.stderr).split('\n')[0]!.trim();
    } catch {
      return 'unknown';
    }
  };
  const entries = await Promise.all(Object.entries(tools).map(async ([name, file]) => [name, await first(file)] as const));
  return { dbops: VERSION, ...Object.fromEntries(entries) };
}
