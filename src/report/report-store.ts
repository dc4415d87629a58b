// Reports live under reports/<yyyy>/<id>.json (+ .html). Reading one always verifies its
// signature; `verifyReportBytes` needs nothing but the bytes and a public key (offline).
import type { KeyObject } from 'node:crypto';
import type { Repository } from '../repo/repository.js';
import { reportKey, reportsPrefix, parseReportKey, idTime } from '../storage/layout.js';
import { signDocument, type SigningKey } from '../crypto/signing.js';
import { parseSignedJson } from '../crypto/signed-json.js';
import { reportSchema, type RestoreReport, type UnsignedReport } from './report-schema.js';
import { renderReportHtml } from './report-html.js';
import { UsageError, VerificationError, isNotFound } from '../errors.js';

export function signReport(report: UnsignedReport, key: SigningKey): RestoreReport {
  return signDocument(report, key) as RestoreReport;
}

/** Store JSON (the evidence) and HTML (for people); JSON is written last. */
export async function saveReport(repo: Repository, report: RestoreReport): Promise<{ jsonKey: string; htmlKey: string }> {
  const when = idTime(report.id);
  const htmlKey = reportKey(report.id, when, 'html');
  const jsonKey = reportKey(report.id, when, 'json');
  await repo.storage.put(htmlKey, Buffer.from(renderReportHtml(report)), { contentType: 'text/html' });
  await repo.storage.put(jsonKey, Buffer.from(`${JSON.stringify(report, null, 2)}\n`), { contentType: 'application/json' });
  return { jsonKey, htmlKey };
}

/** Parse and verify a report: VerificationError (exit 3) on any alteration. */
export function verifyReportBytes(bytes: Buffer, publicKey: KeyObject, what: string): RestoreReport {
  return parseSignedJson(bytes, what, publicKey, reportSchema, 'restore report of format 1');
}

export async function listReportIds(repo: Repository): Promise<string[]> {
  const ids: string[] = [];
  for await (const obj of repo.storage.list(reportsPrefix)) {
    const k = parseReportKey(obj.key);
    if (k?.ext === 'json') ids.push(k.id);
  }
  return ids.sort();
}

export async function loadReport(repo: Repository, id: string): Promise<RestoreReport> {
  const ids = await listReportIds(repo);
  const match = id === 'latest' ? ids[ids.length - 1] : ids.find((i) => i === id) ?? (ids.filter((i) => i.startsWith(id)).length === 1 ? ids.find((i) => i.startsWith(id)) : undefined);
  if (!match) throw new UsageError(`report ${id} does not exist in ${repo.storage.location}; see "dbops report list"`);
  const key = reportKey(match, idTime(match), 'json');
  try {
    return verifyReportBytes(await repo.storage.getBuffer(key), repo.publicKey, key);
  } catch (err) {
    if (isNotFound(err)) throw new UsageError(`report ${id} does not exist; see "dbops report list"`);
    throw err;
  }
}

export interface ListedReport {
  id: string;
  report?: RestoreReport;
  problem?: string;
}

/** Every report, verified; tampered ones are listed with their problem, never hidden. */
export async function listReports(repo: Repository, since?: Date): Promise<ListedReport[]> {
  const out: ListedReport[] = [];
  for (const id of await listReportIds(repo)) {
    if (since && idTime(id) < since) continue;
    const key = reportKey(id, idTime(id), 'json');
    try {
      out.push({ id, report: verifyReportBytes(await repo.storage.getBuffer(key), repo.publicKey, key) });
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      out.push({ id, problem: err.message });
    }
  }
  return out;
}
