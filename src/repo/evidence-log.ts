// The evidence log: an append-only, hash-chained, signed record of every restore test,
// every verify and every administrative action (init, backups, prune, restore, pitr,
// migrations, partition archives and drops, key changes). Entry N carries the hash of entry
// N−1, so an entry deleted, edited, reordered or inserted breaks the chain at a point that
// `dbops evidence verify` names; objects an entry pins (a report, a manifest) carry their
// sha256, so deleting a report that failed is noticed too. Entries are created only where
// their key is free, so two writers cannot both append entry N: the loser reads the new head
// and appends after it. `head.json` (signed, rewritten) names the newest entry, so a
// truncated tail is noticed as well.
import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import type { Repository } from './repository.js';
import { evidenceHeadKey, evidenceKey, evidencePrefix, parseEvidenceKey } from '../storage/layout.js';
import { createIfAbsent } from '../storage/conditional-create.js';
import { decodeDocument, documentHash, documentType, encodeDocument, sha256Hex, type SignedDoc } from './signed-document.js';
import { InterruptedError, OperationError, UsageError, VerificationError, isNotFound } from '../errors.js';
import { log } from '../util/logger.js';
import { VERSION } from '../version.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** What happened. Restore tests and verify give verdicts (pass/fail/error/interrupted); other actions ok/error/interrupted. */
export const OUTCOMES = ['ok', 'pass', 'fail', 'error', 'interrupted'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The repository's own actions; the horizn_ database's administrative actions use dotted names (`migrate.up`, `partition.drop`, …). */
export type EvidenceAction =
  | `${string}.${string}`
  | 'init'
  | 'backup'
  | 'verify'
  | 'restore-test'
  | 'restore'
  | 'pitr'
  | 'prune'
  | 'migrate'
  | 'partition-archive'
  | 'partition-drop'
  | 'retention'
  | 'recipients';

export const evidenceEntryDoc = documentType('horizn-dbops/evidence-entry', 1, 'evidence log entry', {
  repositoryId: z.string(),
  sequence: z.number().int().positive(),
  /** Hash of entry sequence−1 (sha256 of its canonical JSON, signature included); null for entry 1. */
  previous: sha256.nullable(),
  at: z.string().datetime(),
  /** Who and where: the host, the OS user, the process and the tool. */
  actor: z.object({ host: z.string(), user: z.string(), pid: z.number().int(), tool: z.literal('horizn-dbops'), version: z.string() }),
  action: z.string(),
  /** What it was done to: a backup id, a report id, a database, … */
  subject: z.string().nullable(),
  outcome: z.enum(OUTCOMES),
  /** One line for people. */
  summary: z.string(),
  details: z.record(z.string(), z.unknown()),
  /** Objects this entry vouches for, by their stored bytes' sha256. */
  refs: z.array(z.object({ key: z.string(), sha256 })),
});
export type EvidenceEntry = SignedDoc<typeof evidenceEntryDoc>;

export const evidenceHeadDoc = documentType('horizn-dbops/evidence-head', 1, 'evidence log head', {
  repositoryId: z.string(),
  sequence: z.number().int().positive(),
  hash: sha256,
  at: z.string().datetime(),
});

export interface EvidenceInput {
  action: EvidenceAction;
  subject?: string | null;
  outcome: Outcome;
  summary: string;
  details?: Record<string, unknown>;
  refs?: Array<{ key: string; sha256: string }>;
}

/** A bad link: the first one is what `evidence verify` names. */
export interface ChainProblem {
  sequence: number | null;
  key: string;
  problem: string;
}

export interface ChainVerification {
  /** Entries that verified, in order. */
  entries: EvidenceEntry[];
  firstSequence: number | null;
  lastSequence: number | null;
  problems: ChainProblem[];
}

/** Where a chain's objects come from: the repository, or an exported bundle. */
export interface ObjectReader {
  keys(prefix: string): Promise<string[]>;
  /** The bytes, or undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
}

export class EvidenceLog {
  constructor(private readonly repo: Repository) {}

  /** Sign and append one entry after the current head; retried when another writer appended first. */
  async append(input: EvidenceInput): Promise<EvidenceEntry> {
    const signer = this.repo.signer();
    for (let attempt = 0; attempt < 10; attempt++) {
      const head = await this.newest();
      const sequence = (head?.sequence ?? 0) + 1;
      const { doc, bytes } = encodeDocument(
        evidenceEntryDoc,
        {
          repositoryId: this.repo.config.id,
          sequence,
          previous: head ? documentHash(head) : null,
          at: new Date().toISOString(),
          actor: actor(),
          action: input.action,
          subject: input.subject ?? null,
          outcome: input.outcome,
          summary: input.summary,
          details: input.details ?? {},
          refs: input.refs ?? [],
        },
        signer,
      );
      if (!(await createIfAbsent(this.repo.storage, evidenceKey(sequence), bytes, { contentType: 'application/json' }))) continue;
      const headDoc = encodeDocument(evidenceHeadDoc, { repositoryId: this.repo.config.id, sequence, hash: documentHash(doc), at: doc.at }, signer);
      // Rewritten by every append: not evidence itself, so never locked (the entries are).
      await this.repo.storage.put(evidenceHeadKey, headDoc.bytes, { contentType: 'application/json', unlocked: true });
      return doc;
    }
    throw new OperationError('could not append to the evidence log: other writers kept appending first (10 attempts)');
  }

  /** The entry with the highest sequence number, verified; undefined for an empty log. */
  private async newest(): Promise<EvidenceEntry | undefined> {
    const sequences = await this.sequences();
    const last = sequences.at(-1);
    if (last === undefined) return undefined;
    return this.read(last);
  }

  async read(sequence: number): Promise<EvidenceEntry> {
    const key = evidenceKey(sequence);
    const entry = decodeDocument(evidenceEntryDoc, await this.repo.storage.getBuffer(key), key, this.repo.publicKey);
    if (entry.sequence !== sequence) throw new VerificationError(`${key} holds entry ${entry.sequence}: the entry was moved`, key);
    return entry;
  }

  async sequences(): Promise<number[]> {
    const out: number[] = [];
    for await (const obj of this.repo.storage.list(evidencePrefix)) {
      const n = parseEvidenceKey(obj.key);
      if (n !== undefined) out.push(n);
    }
    return out.sort((a, b) => a - b);
  }

  /** Walk the whole chain in the repository (signatures, links, pinned objects, head). */
  async verify(): Promise<ChainVerification> {
    return verifyChain(storageReader(this.repo), this.repo.publicKey, this.repo.config.id, { complete: true });
  }
}

function actor(): EvidenceEntry['actor'] {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (containers with an arbitrary uid) */
  }
  return { host: hostname(), user, pid: process.pid, tool: 'horizn-dbops', version: VERSION };
}

export function storageReader(repo: Repository): ObjectReader {
  return {
    async keys(prefix) {
      const keys: string[] = [];
      for await (const obj of repo.storage.list(prefix)) keys.push(obj.key);
      return keys;
    },
    async get(key) {
      try {
        return await repo.storage.getBuffer(key);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

/**
 * Check a chain: every entry's signature and repository, sequence numbers without a hole,
 * each `previous` equal to the hash of the entry before it, every pinned object present with
 * its sha256, and the head not ahead of the newest entry. `complete`: the chain must start at
 * entry 1 (a repository); an exported bundle may start later, and its first link is taken as given.
 */
export async function verifyChain(reader: ObjectReader, publicKey: Parameters<typeof decodeDocument>[3], repositoryId: string, options: { complete: boolean }): Promise<ChainVerification> {
  const problems: ChainProblem[] = [];
  const entries: EvidenceEntry[] = [];
  const sequences = (await reader.keys(evidencePrefix)).map((k) => parseEvidenceKey(k)).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
  let previous: EvidenceEntry | undefined;
  let expected = options.complete ? 1 : sequences[0] ?? 1;
  for (const sequence of sequences) {
    const key = evidenceKey(sequence);
    if (sequence !== expected) {
      problems.push({ sequence: expected, key: evidenceKey(expected), problem: `entr${sequence - expected === 1 ? 'y' : 'ies'} ${expected}${sequence - expected > 1 ? `…${sequence - 1}` : ''} missing: the chain jumps from ${expected - 1} to ${sequence}` });
      previous = undefined;
    }
    expected = sequence + 1;
    let entry: EvidenceEntry;
    try {
      const bytes = await reader.get(key);
      if (!bytes) throw new VerificationError(`${key} disappeared while it was read`, key);
      entry = decodeDocument(evidenceEntryDoc, bytes, key, publicKey);
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      problems.push({ sequence, key, problem: err.message });
      previous = undefined;
      continue;
    }
    if (entry.sequence !== sequence) problems.push({ sequence, key, problem: `${key} holds entry ${entry.sequence}: entries were moved or reordered` });
    else if (entry.repositoryId !== repositoryId) problems.push({ sequence, key, problem: `${key} belongs to repository ${entry.repositoryId}, not ${repositoryId}` });
    else if (previous && entry.previous !== documentHash(previous)) problems.push({ sequence, key, problem: `${key} does not link to entry ${previous.sequence}: its previous hash is ${short(entry.previous)}, entry ${previous.sequence} hashes to ${short(documentHash(previous))} (an entry was edited, replaced or inserted)` });
    else if (!previous && sequence === 1 && entry.previous !== null) problems.push({ sequence, key, problem: `${key} is entry 1 but names a previous entry` });
    entries.push(entry);
    previous = entry;
  }
  // Pinned objects: present with the recorded sha256, or retired by a later entry (a prune
  // records what it is about to delete before it deletes it, so even a killed prune is covered).
  const retiredAt = new Map<string, number>();
  for (const e of entries) for (const key of retiredKeys(e)) if (!retiredAt.has(key)) retiredAt.set(key, e.sequence);
  for (const entry of entries) {
    const sequence = entry.sequence;
    for (const ref of entry.refs) {
      const bytes = await reader.get(ref.key);
      if (!bytes) {
        if ((retiredAt.get(ref.key) ?? 0) > sequence) continue;
        problems.push({ sequence, key: ref.key, problem: `${ref.key}, recorded by evidence entry ${sequence} (${entry.action} ${entry.subject ?? ''}), is missing` });
      } else if (sha256Hex(bytes) !== ref.sha256) {
        problems.push({ sequence, key: ref.key, problem: `${ref.key}, recorded by evidence entry ${sequence} (${entry.action} ${entry.subject ?? ''}), was changed: sha256 ${short(sha256Hex(bytes))}, recorded ${short(ref.sha256)}` });
      }
    }
  }
  const headBytes = await reader.get(evidenceHeadKey);
  const last = sequences.at(-1);
  if (headBytes) {
    try {
      const head = decodeDocument(evidenceHeadDoc, headBytes, evidenceHeadKey, publicKey);
      if (last === undefined || head.sequence > last) {
        problems.push({ sequence: head.sequence, key: evidenceKey(head.sequence), problem: `the log ends at entry ${last ?? 0} but its head names entry ${head.sequence}: the newest entries were removed` });
      } else {
        const named = entries.find((e) => e.sequence === head.sequence);
        if (named && documentHash(named) !== head.hash) problems.push({ sequence: head.sequence, key: evidenceKey(head.sequence), problem: `entry ${head.sequence} is not the one the head names (hash ${short(documentHash(named))}, head ${short(head.hash)}): it was replaced` });
      }
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      problems.push({ sequence: null, key: evidenceHeadKey, problem: err.message });
    }
  } else if (last !== undefined && options.complete) {
    problems.push({ sequence: null, key: evidenceHeadKey, problem: `${evidenceHeadKey} is missing although the log has ${sequences.length} entries: it was removed` });
  }
  problems.sort((a, b) => (a.sequence ?? Infinity) - (b.sequence ?? Infinity));
  return { entries, firstSequence: sequences[0] ?? null, lastSequence: last ?? null, problems };
}

/** Objects an entry says are deleted on purpose from here on (details.retired: keys). */
function retiredKeys(e: EvidenceEntry): string[] {
  const r = e.details.retired;
  return Array.isArray(r) ? r.filter((k): k is string => typeof k === 'string') : [];
}

function short(hash: string | null): string {
  return hash ? `${hash.slice(0, 12)}…` : 'none';
}

/** The outcome an error stands for: a signal is `interrupted`, a failed check `fail`, anything else `error`. */
export function outcomeOf(err: unknown): Outcome {
  if (err instanceof InterruptedError) return 'interrupted';
  if (err instanceof VerificationError) return 'fail';
  return 'error';
}

/**
 * Append an entry when this process can sign (a host without the signing key, such as an
 * auditor's, records nothing and says so once). A failure to append is an error of the
 * command: the action happened but its evidence is missing, which someone must know.
 */
export async function recordEvidence(repo: Repository, input: EvidenceInput): Promise<EvidenceEntry | undefined> {
  if (!repo.canSign) {
    if (!warnedUnsigned) log.info({ action: input.action }, 'not recorded in the evidence log: no signing key configured (signing.keyFile)');
    warnedUnsigned = true;
    return undefined;
  }
  try {
    return await repo.evidence.append(input);
  } catch (err) {
    throw new OperationError(`${input.summary}; but its evidence entry could not be written: ${(err as Error).message}`, { cause: err });
  }
}

let warnedUnsigned = false;

/** Run `fn` and record what came of it: `describe` turns a result into the entry; an error is recorded with its outcome and rethrown. */
export async function withEvidence<T>(repo: Repository, what: { action: EvidenceAction; subject?: string | null }, fn: () => Promise<T>, describe: (result: T) => Omit<EvidenceInput, 'action'>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    // Bad input changes nothing, not even the evidence log.
    if (err instanceof UsageError) throw err;
    await recordEvidence(repo, { ...what, outcome: outcomeOf(err), summary: `${what.action}${what.subject ? ` ${what.subject}` : ''} failed: ${(err as Error).message}` }).catch((e: Error) => log.error({ err: e.message }, 'the failure could not be recorded in the evidence log'));
    throw err;
  }
  await recordEvidence(repo, { ...what, ...describe(result) });
  return result;
}
