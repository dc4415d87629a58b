// Partial segments of `dbops binlog ship` against a real MariaDB, the real shipper (the CLI)
// and the S3 protocol server: the file the source is writing goes out as it grows, part
// after part, each chained to the one before; recovery reads it; prune keeps the parts while
// they are the only copy; the whole file, once closed, replaces the parts byte for byte. And
// kill -9 at each step between a partial segment and the whole file (while the whole file's
// data or manifest is being stored, while the parts are being removed, while a part's
// manifest is being stored) leaves a chain that point-in-time recovery replays to the
// newest shipped point, nothing listed whose data is missing, parts that prune removes once
// the whole file is in, and a chain that the next shipper completes without loss or
// duplicates.
//
// The shipper's account lacks RELOAD, so only the test rotates the binlog: what is asserted
// does not depend on how fast a loaded machine runs (how often the shipper rotates is
// measured by `npm run bench`'s binlog group, not here). Every wait is for a state.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/process-server.js';
import { MysqlClient, withConnection } from '../../src/mysql/client.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { initRepository, openRepository } from '../../src/repo/repository.js';
import { loadSigningKey } from '../../src/crypto/signing.js';
import { resolveRecipients } from '../../src/crypto/age.js';
import { shippingStatus } from '../../src/binlog/shipping-status.js';
import { isPrefix } from '../../src/binlog/segment-manifest.js';
import { runBackup } from '../../src/backup/run-backup.js';
import { runPitr } from '../../src/pitr/run-pitr.js';
import type { PitrTarget } from '../../src/pitr/target-spec.js';
import { tableContentChecksum } from '../../src/verify/content-checksum.js';
import { runCli, startCli, makeKeys } from '../helpers/cli.js';
import { startS3Server, s3TestEnv, type S3TestServer } from '../helpers/s3-server.js';
import { startHoldProxy, type HoldProxy, type HeldRequest } from '../helpers/s3-hold-proxy.js';
import { segments, sha256, expectContiguous, dumpThreads as dumpThreadsOf, type ShipSetup } from '../helpers/binlog-ship.js';
import { until } from '../helpers/until.js';
import { formatConnectionUrl } from '../../src/mysql/connection-url.js';
import { partialFilePrefix } from '../../src/storage/layout.js';

let server: SandboxServer;
let target: SandboxServer;
let db: MysqlClient;
let keys: Awaited<ReturnType<typeof makeKeys>>;
let s3: S3TestServer;
let proxy: HoldProxy;
let recipients: string[];
let row = 0;
/** The shipper's source URL: an account without RELOAD (it cannot rotate the binlog). */
let shipperUrl: string;

/** `what` once `cond` holds, polled; the generous timeout is for a loaded machine, not a budget. */
const waitFor = (what: string, cond: () => Promise<boolean>): Promise<true> => until(what, async () => ((await cond()) ? true : undefined), 120_000);

beforeAll(async () => {
  [server, target, keys, s3] = await Promise.all([startSandboxServer({ binlog: true }), startSandboxServer({ binlog: false }), makeKeys(), startS3Server()]);
  proxy = await startHoldProxy(s3);
  recipients = await resolveRecipients([keys.env.DBOPS_AGE_RECIPIENTS!]);
  db = await MysqlClient.connect(server.conn);
  await db.exec('CREATE DATABASE faults');
  await db.exec('CREATE TABLE faults.t (id INT PRIMARY KEY, v VARCHAR(200))');
  await db.exec('CREATE TABLE faults.u (id INT PRIMARY KEY, n INT NOT NULL)');
  await db.exec('INSERT INTO faults.u VALUES (1, 0), (2, 0)');
  await db.exec("CREATE USER 'shipper'@'%' IDENTIFIED BY 'ship-pw'");
  await db.exec("GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'shipper'@'%'");
  shipperUrl = formatConnectionUrl({ ...server.conn, user: 'shipper', password: 'ship-pw' });
}, 120_000);

afterAll(async () => {
  await db?.close();
  await proxy?.close();
  await Promise.all([server?.stop(), target?.stop()]);
  await s3?.cleanup();
});

/** One transaction: a row and a counter update. */
async function write(): Promise<void> {
  row++;
  await db.exec('BEGIN');
  await db.exec('INSERT INTO faults.t VALUES (?, ?)', [row, `row ${row}`]);
  await db.exec('UPDATE faults.u SET n = n + 1 WHERE id = ?', [(row % 2) + 1]);
  await db.exec('COMMIT');
}

/** `n` transactions, each waited for in a partial segment of its own, so `file` has at least `n` parts. */
async function writeParts(s: ShipSetup, sourceId: string, file: string, n: number): Promise<{ file: string; pos: number }> {
  let at = await binlogPos();
  for (let i = 0; i < n; i++) {
    await write();
    at = await binlogPos();
    expect(at.file).toBe(file);
    await waitFor(`the write at ${at.file}:${at.pos} in a partial segment`, async () => (await partialEnd(s, sourceId, file)) === at.pos);
  }
  return at;
}

const serverLogs = async (): Promise<string[]> => (await db.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((r) => r.Log_name);
const binlogPos = async (): Promise<{ file: string; pos: number }> => {
  const r = (await db.query<{ File: string; Position: number }>('SHOW BINLOG STATUS'))[0]!;
  return { file: r.File, pos: Number(r.Position) };
};

async function checksums(conn: SandboxServer['conn']): Promise<Record<string, string>> {
  return withConnection(conn, async (c) => {
    const out: Record<string, string> = {};
    for (const t of ['t', 'u']) {
      const s = await tableContentChecksum(c.raw, 'faults', t);
      out[t] = `${s.rows}:${s.checksum}`;
    }
    return out;
  });
}

/** A fresh repository on the S3 server behind the hold proxy, with a base backup of `faults`. */
async function setup(): Promise<ShipSetup & { prefix: string; baseId: string }> {
  const prefix = `partial-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const spool = await mkdtemp(join(tmpdir(), 'dbops-spool-'));
  const signer = await loadSigningKey(keys.env.DBOPS_SIGNING_KEY_FILE);
  const storage = await openStorage(s3.url(prefix));
  await initRepository(storage, signer, recipients);
  const repo = await openRepository(storage, { signer });
  const baseId = (await runBackup({ repo, source: server.conn, recipients, databases: ['faults'], compressionLevel: 3, compressionThreads: 1, includeAccounts: false })).id;
  const env = { ...keys.env, ...s3TestEnv, DBOPS_STORAGE_URL: proxy.url(prefix), DBOPS_SOURCE_URL: shipperUrl, DBOPS_BINLOG_SPOOL_DIR: spool, DBOPS_BINLOG_MAX_LAG_SECONDS: '5', DBOPS_BINLOG_PARTIAL_SEGMENTS: 'true' };
  return { env, repo, repoDir: '', spool, prefix, baseId };
}

async function sourceIdOf(s: ShipSetup): Promise<string> {
  for await (const o of s.repo.storage.list('binlogs/')) return o.key.split('/')[1]!;
  return '';
}

/** Where the partial segments of `file` end (0: none). */
async function partialEnd(s: ShipSetup, sourceId: string, file: string): Promise<number> {
  return (await s.repo.binlogs.partials(sourceId, file)).parts.at(-1)?.endPosition ?? 0;
}

/** Chain entries whose data objects are not all in the store: none may be listed. */
async function listedWithoutData(s: ShipSetup, sourceId: string): Promise<string[]> {
  const missing: string[] = [];
  for (const seg of (await s.repo.binlogs.chainSegments(sourceId)).segments) {
    const keys = isPrefix(seg) ? seg.parts.map((p) => p.key) : [seg.key];
    for (const k of keys) if (!(await s.repo.storage.stat(k))) missing.push(k);
  }
  return missing;
}

/** Every object under the partial segments of `file`. */
async function partialObjects(s: ShipSetup, sourceId: string, file: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of s.repo.storage.list(partialFilePrefix(sourceId, file))) keys.push(o.key);
  return keys;
}

async function prune(s: ShipSetup): Promise<void> {
  const r = await runCli(['prune', '--apply'], s.env);
  expect(r.exitCode, r.stderr).toBe(0);
}

/** Recover the repository's newest point (or `to`) into the target; its data must be the source's as `expected`. */
async function recoverLatest(s: ShipSetup & { baseId: string }, expected: Record<string, string>, to: PitrTarget = { kind: 'latest' }): Promise<{ file: string; position: number }> {
  await withConnection(target.conn, async (c) => {
    for (const d of await c.listUserDatabases()) await c.exec(`DROP DATABASE \`${d}\``);
  });
  const r = await runPitr({ repo: s.repo, identityFile: keys.env.DBOPS_AGE_IDENTITY_FILE!, target: to, conn: target.conn, base: s.baseId });
  expect(await checksums(target.conn)).toEqual(expected);
  return { file: r.reached!.file, position: r.reached!.position };
}

function shipper(s: ShipSetup): ReturnType<typeof startCli> & { stderr$: () => string } {
  const p = startCli(['binlog', 'ship', '--json'], s.env);
  let stderr = '';
  p.stderr?.on('data', (c: Buffer) => (stderr += String(c)));
  return Object.assign(p, { stderr$: () => stderr });
}

async function startShipping(s: ShipSetup): Promise<{ proc: ReturnType<typeof shipper>; sourceId: string }> {
  for (const id of await dumpThreadsOf(db)) await db.exec(`KILL ${id}`).catch(() => undefined);
  await waitFor('no dump thread of an earlier shipper', async () => (await dumpThreadsOf(db)).length === 0);
  const proc = shipper(s);
  let sourceId = '';
  await waitFor('the shipper to stream and catch up', async () => {
    sourceId ||= await sourceIdOf(s);
    return sourceId !== '' && (await dumpThreadsOf(db)).length === 1 && (await s.repo.binlogs.shipperState(sourceId)) !== null;
  });
  return { proc, sourceId };
}

describe('partial segments', () => {
  it('the active file goes out as it grows, part after chained part; recovery reads it; prune keeps it; the whole file replaces it byte for byte', async () => {
    const s = await setup();
    await db.exec('FLUSH BINARY LOGS');
    const { proc, sourceId } = await startShipping(s);
    try {
      const active = (await serverLogs()).at(-1)!;
      // A point inside the shipped prefix, before its last part: where --before stops below.
      const mid = await writeParts(s, sourceId, active, 2);
      const atMid = await checksums(server.conn);
      const at = await writeParts(s, sourceId, active, 1);
      const status = await shippingStatus(s.repo, sourceId);
      expect(status.partial).toMatchObject({ file: active, endPosition: at.pos });
      expect(status.partial!.parts).toBeGreaterThanOrEqual(3);
      const { segments: chain, problems } = await s.repo.binlogs.chainSegments(sourceId);
      expect(problems).toEqual([]);
      expect(isPrefix(chain.at(-1)!)).toBe(true);
      expect(chain.at(-1)).toMatchObject({ file: active, endPosition: at.pos });
      // Each part starts where the one before ended (their bytes are checked against the file once it is closed:
      // the open file on disk carries the server's in-use flag, which the replication stream clears).
      const { parts } = await s.repo.binlogs.partials(sourceId, active);
      parts.forEach((p, i) => expect(p.partial.from).toBe(i === 0 ? 0 : parts[i - 1]!.endPosition));

      const expected = await checksums(server.conn);
      expect(await recoverLatest(s, expected)).toEqual({ file: active, position: at.pos });
      // A point inside the parts, not at their end: replay stops there, exactly.
      expect(await recoverLatest(s, atMid, { kind: 'before', file: active, position: mid.pos })).toEqual({ file: active, position: mid.pos });
      // The parts are the only copy of the newest transactions: prune keeps every one.
      const before = await partialObjects(s, sourceId, active);
      await prune(s);
      expect(await partialObjects(s, sourceId, active)).toEqual(before);

      await db.exec('FLUSH BINARY LOGS');
      await waitFor('the whole file to replace its parts', async () => (await s.repo.binlogs.shippedFiles(sourceId)).includes(active) && (await partialObjects(s, sourceId, active)).length === 0);
      const whole = (await segments(s, sourceId)).find((m) => m.file === active)!;
      const bytes = await readFile(join(server.binlogDir, active));
      expect(whole.rawSha256).toBe(sha256(bytes));
      expect(sha256(bytes.subarray(0, at.pos))).toBe(parts.at(-1)!.partial.prefixSha256);
      expect(await recoverLatest(s, expected)).toMatchObject({ file: active });

      proc.kill('SIGTERM');
      const done = await proc;
      expect(done.exitCode, proc.stderr$()).toBe(0);
      const out = JSON.parse(String(done.stdout)) as { partials: number };
      expect(out.partials).toBe(parts.length);
      expect(proc.stderr$()).not.toContain('differs from its partial segments');
    } finally {
      proc.kill('SIGKILL');
      await proc.catch(() => undefined);
    }
  }, 300_000);

  it('a part that does not follow the one before ends the shipped prefix there; a part whose bytes were changed fails recovery with exit 3', async () => {
    const s = await setup();
    await db.exec('FLUSH BINARY LOGS');
    const { proc, sourceId } = await startShipping(s);
    const active = (await serverLogs()).at(-1)!;
    try {
      await writeParts(s, sourceId, active, 3);
      proc.kill('SIGTERM');
      expect((await proc).exitCode, proc.stderr$()).toBe(0);
    } finally {
      proc.kill('SIGKILL');
      await proc.catch(() => undefined);
    }
    const { parts } = await s.repo.binlogs.partials(sourceId, active);
    const [p1, p2] = parts;
    // Part 2's manifest where part 3's belongs: signed, but not the next link.
    const third = parts[2]!.key.replace(/\.zst\.age$/, '.json');
    const saved = await s.repo.storage.getBuffer(third);
    await s.repo.storage.put(third, await s.repo.storage.getBuffer(p2!.key.replace(/\.zst\.age$/, '.json')));
    const broken = await s.repo.binlogs.chainSegments(sourceId);
    expect(broken.problems.join('\n')).toMatch(/not one chain|moved or swapped/);
    expect(broken.segments.at(-1)).toMatchObject({ file: active, endPosition: p2!.endPosition });
    await s.repo.storage.put(third, saved);

    // Part 1's data object replaced by part 2's: each is checked against its manifest on the way.
    const original = await s.repo.storage.getBuffer(p1!.key);
    await s.repo.storage.put(p1!.key, await s.repo.storage.getBuffer(p2!.key));
    const r = await runCli(['pitr', '--to', 'latest', '--base', s.baseId, '--target', target.url], s.env);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain(p1!.key);
    await s.repo.storage.put(p1!.key, original);
  }, 300_000);

  const steps = [
    { step: 'storing the whole file', hold: (file: string) => (key: string) => key.endsWith(`/${file}.zst.age`) && !key.includes('/partial/'), method: 'PUT', flush: true },
    { step: "storing the whole file's manifest", hold: (file: string) => (key: string) => key.endsWith(`/${file}.json`) && !key.includes('/partial/'), method: 'PUT', flush: true },
    { step: 'removing the replaced parts', hold: (file: string) => (key: string) => key.includes(`/partial/${file}/`), method: 'DELETE', flush: true, orphans: true },
    { step: "storing a part's manifest", hold: (file: string) => (key: string) => key.includes(`/partial/${file}/`) && key.endsWith('.json'), method: 'PUT', flush: false },
  ];

  it.each(steps)('kill -9 while $step: recovery replays the chain to its newest point, nothing is listed without its data, and the next shipper completes it', async ({ hold, method, flush, orphans }) => {
    const s = await setup();
    await db.exec('FLUSH BINARY LOGS');
    const first = await startShipping(s);
    const { sourceId } = first;
    const active = (await serverLogs()).at(-1)!;
    let held: HeldRequest | undefined;
    let expected: Record<string, string>;
    try {
      await writeParts(s, sourceId, active, 3);
      expected = await checksums(server.conn);
      const match = hold(active);
      const holding = proxy.hold((r) => r.method === method && r.key !== null && r.key.startsWith(`${s.prefix}/`) && match(r.key));
      if (flush) await db.exec('FLUSH BINARY LOGS');
      else await write(); // the next part: held at its manifest; its data is stored already
      held = await holding;
      first.proc.kill('SIGKILL');
      held.drop();
      await first.proc.catch(() => undefined);
    } finally {
      first.proc.kill('SIGKILL');
      await first.proc.catch(() => undefined);
    }

    // What the kill left: the newest point offsite is where recovery lands, with the source's data there.
    const reached = await recoverLatest(s, expected);
    expect(reached.file).toBe(active);
    const { problems } = await s.repo.binlogs.chainSegments(sourceId);
    expect(problems).toEqual([]);
    expect(await listedWithoutData(s, sourceId)).toEqual([]);
    if (orphans) {
      // The whole file is in, its parts were not yet removed: prune removes them, recovery still reaches the same point.
      expect(await s.repo.binlogs.shippedFiles(sourceId)).toContain(active);
      expect(await partialObjects(s, sourceId, active)).not.toEqual([]);
      await prune(s);
      expect(await partialObjects(s, sourceId, active)).toEqual([]);
      expect(await recoverLatest(s, expected)).toEqual(reached);
    }

    // The next shipper completes the chain: the file whole, its parts gone, nothing twice, no gap.
    await write();
    const second = await startShipping(s);
    try {
      if (!flush) {
        await db.exec('FLUSH BINARY LOGS');
        await write();
      }
      await waitFor('the file shipped whole and its parts removed', async () => (await s.repo.binlogs.shippedFiles(sourceId)).includes(active) && (await partialObjects(s, sourceId, active)).length === 0);
      const now = await binlogPos();
      // At or past: after a rotation the server appends a Binlog_checkpoint event (40 bytes here)
      // once the previous file's transactions are durable, which may come after \`now\` was read.
      await waitFor('the newest writes offsite', async () => (await partialEnd(s, sourceId, now.file)) >= now.pos || (await s.repo.binlogs.shippedFiles(sourceId)).includes(now.file));
      second.proc.kill('SIGTERM');
      expect((await second.proc).exitCode, second.proc.stderr$()).toBe(0);
    } finally {
      second.proc.kill('SIGKILL');
      await second.proc.catch(() => undefined);
    }
    const list = await segments(s, sourceId);
    expectContiguous(list);
    for (const m of list) expect(m.rawSha256, m.file).toBe(sha256(await readFile(join(server.binlogDir, m.file))));
    expect((await shippingStatus(s.repo, sourceId)).gaps).toEqual([]);
    expect(second.proc.stderr$()).not.toContain('differs from its partial segments');
    await recoverLatest(s, await checksums(server.conn));
  }, 300_000);
});
