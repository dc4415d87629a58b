// `dbops binlog find`: decode shipped binlogs (decrypted to a private temp dir on the fly,
// checked against their signed manifests) and list the transactions that match — time,
// FILE:POS to hand to `pitr --before`, GTID, statement or row summary. Files outside
// --since/--until are skipped from their manifests alone, and so are files whose signed
// content index (tables × insert/update/delete, statement count) rules out a --table/--type
// match: "who deleted from pageviews" decodes only the files with deletes on pageviews.
// The next file is fetched while the current one is decoded.
import { createInterface } from 'node:readline';
import type { Repository } from '../repo/repository.js';
import { findFirstTool } from '../mysql/find-tool.js';
import { startTool, waitTool } from '../util/tool-process.js';
import { ToolError, UsageError } from '../errors.js';
import { parseTableRef } from '../restore/select-parts.js';
import type { Flavor } from '../mysql/server-info.js';
import { BinlogTextParser, type DecodedTransaction, type Operation, type OpType } from './decode-events.js';
import { SegmentCache } from './segment-cache.js';
import type { SegmentContent } from '../binlog/event-scan.js';

export interface FindOptions {
  repo: Repository;
  identityFile: string;
  sourceId?: string;
  grep?: RegExp;
  /** `db.table` */
  table?: string;
  type?: OpType;
  since?: Date;
  until?: Date;
  signal?: AbortSignal;
}

export interface FindResult {
  sourceId: string;
  files: number;
  skippedFiles: number;
  scannedBytes: number;
  seconds: number;
  transactions: number;
  matches: DecodedTransaction[];
}

export const OP_TYPES: readonly OpType[] = ['insert', 'update', 'delete', 'ddl'];

export function opMatches(op: Operation, o: Pick<FindOptions, 'grep' | 'table' | 'type'>): boolean {
  if (o.type && op.type !== o.type) return false;
  if (o.table) {
    const { database, table } = parseTableRef(o.table);
    if (op.table !== `${database}.${table}`) return false;
  }
  if (o.grep && !(o.grep.test(op.statement ?? '') || o.grep.test(op.table ?? ''))) return false;
  return true;
}

/** False only when the segment's content index proves no operation in it can match --table/--type. */
export function segmentMayMatch(content: SegmentContent | undefined, o: Pick<FindOptions, 'table' | 'type'>): boolean {
  const type = o.type;
  if (!content || (!o.table && !type) || type === 'other') return true;
  // Statements (DDL, statement-format DML) need a decode to say what they touch.
  if (content.statements > 0 || content.unmappedRowEvents > 0) return true;
  if (type === 'ddl') return false;
  const wanted = o.table ? (({ database, table }) => `${database}.${table}`)(parseTableRef(o.table)) : undefined;
  return Object.entries(content.tables).some(([table, counts]) => (!wanted || table === wanted) && (!type || counts[type] > 0));
}

/** The binlog decoder for a flavour (MySQL's cannot read MariaDB binlogs and vice versa). */
export function binlogTool(flavor: Flavor): string {
  const names = flavor === 'mariadb' ? ['mariadb-binlog', 'mysqlbinlog'] : ['mysqlbinlog'];
  const found = findFirstTool(names);
  if (!found) throw new ToolError(names[0]!, `not found on PATH (tried ${names.join(', ')}): install ${flavor === 'mariadb' ? 'mariadb-client' : 'mysql-client'}`);
  return found.path;
}

export async function findEvents(o: FindOptions): Promise<FindResult> {
  const t0 = performance.now();
  const sourceId = o.sourceId ?? (await onlySource(o.repo));
  const { segments } = await o.repo.binlogs.chainSegments(sourceId);
  if (segments.length === 0) throw new UsageError(`no binlogs of source ${sourceId} in ${o.repo.storage.location}: run "dbops binlog ship"`);
  const wanted = segments.filter(
    (s) => !(o.since && Date.parse(s.lastEventTime) < o.since.getTime()) && !(o.until && Date.parse(s.firstEventTime) > o.until.getTime()) && segmentMayMatch(s.content, o),
  );
  const tool = binlogTool(segments[0]!.flavor);
  const result: FindResult = { sourceId, files: wanted.length, skippedFiles: segments.length - wanted.length, scannedBytes: 0, seconds: 0, transactions: 0, matches: [] };
  const cache = await SegmentCache.create(o.repo, o.identityFile);
  try {
    for (let i = 0; i < wanted.length; i++) {
      if (o.signal?.aborted) break;
      const seg = wanted[i]!;
      cache.prefetch(wanted[i + 1]);
      const path = await cache.fetch(seg);
      const onTx = (t: DecodedTransaction): void => {
        result.transactions++;
        const time = Date.parse(t.time);
        if ((o.since && time < o.since.getTime()) || (o.until && time > o.until.getTime())) return;
        const ops = t.operations.filter((op) => opMatches(op, o));
        if (ops.length > 0) result.matches.push({ ...t, operations: ops });
      };
      await decodeFile(tool, seg.flavor, path, seg.file, onTx);
      result.scannedBytes += seg.rawBytes;
    }
  } finally {
    await cache.dispose();
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/** Run the decoder on one local file and feed its text to the parser. */
export async function decodeFile(tool: string, flavor: Flavor, path: string, file: string, onTx: (t: DecodedTransaction) => void): Promise<void> {
  // Row events only summarised (decode-rows); MySQL's tool prints row counts only with -v.
  const args = ['--no-defaults', '--base64-output=decode-rows', ...(flavor === 'mysql' ? ['-v'] : []), path];
  const proc = startTool(tool, args, { env: { TZ: 'UTC' }, bufferStdout: true });
  const done = waitTool(proc, 'mariadb-binlog');
  done.catch(() => undefined);
  const parser = new BinlogTextParser(file, onTx);
  for await (const line of createInterface({ input: proc.stdout, crlfDelay: Infinity })) parser.line(line);
  parser.end();
  await done;
}

async function onlySource(repo: Repository): Promise<string> {
  const sources = await repo.binlogs.sources();
  if (sources.length === 1) return sources[0]!;
  if (sources.length === 0) throw new UsageError(`no binlogs shipped to ${repo.storage.location}: run "dbops binlog ship"`);
  const newest = (await repo.backups.list()).flatMap((b) => (b.manifest ? [b.manifest] : [])).sort((a, b) => b.id.localeCompare(a.id)).find((m) => sources.includes(m.source.serverUuid));
  if (newest) return newest.source.serverUuid;
  throw new UsageError(`the repository holds binlogs of ${sources.length} sources (${sources.join(', ')}): choose one with --server-uuid`);
}
