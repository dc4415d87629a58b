// Restore-test reports under reports/<yyyy>/<id>.json (+ .html for people). Reading one
// always verifies its signature; `verifyReportBytes` needs only the bytes and a public key
// (offline, for auditors).
import type { KeyObject } from 'node:crypto';
import type { Repository } from './repository.js';
import { reportKey, reportsPrefix, parseReportKey, idTime } from '../storage/layout.js';
import { decodeReport, reportDoc, type RestoreReport, type UnsignedReport } from '../report/report-schema.js';
import { renderReportHtml, type ReportPageContext } from '../report/report-html.js';
import { encodeDocument, sha256Hex } from './signed-document.js';
import { UsageError, VerificationError, isNotFound } from '../errors.js';

export interface ListedReport {
  id: string;
  report?: RestoreReport;
  problem?: string;
}

export interface StoredReport {
  report: RestoreReport;
  jsonKey: string;
  htmlKey: string;
  /** sha256 of the JSON bytes as stored: what the evidence log pins. */
  sha256: string;
}

/** Parse and verify a report (format 1 or 2): VerificationError (exit 3) on any alteration. */
export function verifyReportBytes(bytes: Buffer, publicKey: KeyObject, what: string): RestoreReport {
  return decodeReport(bytes, publicKey, what);
}

export class ReportStore {
  constructor(private readonly repo: Repository) {}

  /** Sign and store: HTML (for people) first, then the JSON (the evidence). */
  async put(unsigned: UnsignedReport): Promise<StoredReport> {
    const { doc, bytes } = encodeDocument(reportDoc, unsigned, this.repo.signer());
    const when = idTime(doc.id);
    const htmlKey = reportKey(doc.id, when, 'html');
    const jsonKey = reportKey(doc.id, when, 'json');
    await this.repo.storage.put(htmlKey, Buffer.from(renderReportHtml(doc)), { contentType: 'text/html' });
    await this.repo.storage.put(jsonKey, bytes, { contentType: 'application/json' });
    return { report: doc, jsonKey, htmlKey, sha256: sha256Hex(bytes) };
  }

  /** Rewrite a stored report's page, e.g. once its evidence entry is known (the page is a rendering: neither signed nor pinned). */
  async putPage(report: RestoreReport, context: ReportPageContext): Promise<void> {
    await this.repo.storage.put(reportKey(report.id, idTime(report.id), 'html'), Buffer.from(renderReportHtml(report, context)), { contentType: 'text/html' });
  }

  async ids(): Promise<string[]> {
    const ids: string[] = [];
    for await (const obj of this.repo.storage.list(reportsPrefix)) {
      const k = parseReportKey(obj.key);
      if (k?.ext === 'json') ids.push(k.id);
    }
    return ids.sort();
  }

  /** The stored bytes of report `id` (exact id) and their parsed, verified form. */
  async read(id: string): Promise<{ report: RestoreReport; bytes: Buffer; key: string }> {
    const key = reportKey(id, idTime(id), 'json');
    const bytes = await this.repo.storage.getBuffer(key);
    return { report: verifyReportBytes(bytes, this.repo.publicKey, key), bytes, key };
  }

  /** `latest`, an id or a unique prefix. */
  async get(ref: string): Promise<RestoreReport> {
    const ids = await this.ids();
    const prefixed = ids.filter((i) => i.startsWith(ref));
    const match = ref === 'latest' ? ids.at(-1) : ids.includes(ref) ? ref : prefixed.length === 1 ? prefixed[0] : undefined;
    if (!match) throw new UsageError(`report ${ref} does not exist in ${this.repo.storage.location}; see "dbops report list"`);
    try {
      return (await this.read(match)).report;
    } catch (err) {
      if (isNotFound(err)) throw new UsageError(`report ${ref} does not exist; see "dbops report list"`);
      throw err;
    }
  }

  /** Every report, verified; tampered ones are listed with their problem, never hidden. */
  async list(since?: Date): Promise<ListedReport[]> {
    const out: ListedReport[] = [];
    for (const id of await this.ids()) {
      if (since && idTime(id) < since) continue;
      try {
        out.push({ id, report: (await this.read(id)).report });
      } catch (err) {
        if (!(err instanceof VerificationError)) throw err;
        out.push({ id, problem: err.message });
      }
    }
    return out;
  }
}
