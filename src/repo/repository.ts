// A repository is a storage location plus its repo.json, and typed stores for everything
// signed in it (backups, binlogs, reports, checksums, the evidence log). Opening one verifies
// repo.json. A writer opens it with its signing key, and writes only into a repository whose
// repo.json that key signed: a repo.json replaced by one signed with another key is refused
// (exit 3) before anything is written, so no backup ever lands in a forged repository.
import { randomUUID, type KeyObject } from 'node:crypto';
import type { Storage } from '../storage/storage.js';
import { repoJsonKey } from '../storage/layout.js';
import { parseRepoConfig, repoConfigDoc, type RepoConfig } from './repo-config.js';
import { keyIdOf, type SigningKey } from '../crypto/signing.js';
import { recipientFingerprint } from '../crypto/age.js';
import { UsageError, VerificationError, isNotFound } from '../errors.js';
import { encodeDocument } from './signed-document.js';
import { BackupStore } from './backup-store.js';
import { BinlogStore } from './binlog-store.js';
import { ReportStore } from './report-store.js';
import { ChecksumStore } from './checksum-store.js';
import { EvidenceLog } from './evidence-log.js';

export class Repository {
  readonly backups = new BackupStore(this);
  readonly binlogs = new BinlogStore(this);
  readonly reports = new ReportStore(this);
  readonly checksums = new ChecksumStore(this);
  readonly evidence = new EvidenceLog(this);

  constructor(
    readonly storage: Storage,
    readonly config: RepoConfig,
    /** Key that every signed document must be signed with. */
    readonly publicKey: KeyObject,
    private readonly signingKey?: SigningKey,
  ) {}

  get canSign(): boolean {
    return this.signingKey !== undefined;
  }

  /** The key new documents are signed with; only a repository opened for writing has one. */
  signer(): SigningKey {
    if (!this.signingKey) throw new UsageError('no signing key configured: set DBOPS_SIGNING_KEY_FILE (or signing.keyFile) to signing.key from "dbops keys generate"');
    return this.signingKey;
  }

  /** The recipients every new archive is encrypted to, as repo.json records them. */
  get recipients(): string[] {
    return this.config.recipients.map((r) => r.recipient);
  }

  /**
   * Configured recipients must be exactly repo.json's: one left out could no longer open new
   * backups, one added would be a key nobody agreed to. Changes go through updateRecipients.
   */
  checkRecipients(configured: readonly string[]): void {
    const have = new Set(this.config.recipients.map((r) => r.fingerprint));
    const want = new Set(configured.map(recipientFingerprint));
    const extra = configured.filter((r) => !have.has(recipientFingerprint(r)));
    const missing = this.config.recipients.filter((r) => !want.has(r.fingerprint)).map((r) => r.recipient);
    if (extra.length === 0 && missing.length === 0) return;
    const short = (r: string): string => `${r.slice(0, 12)}…${r.slice(-6)}`;
    const parts = [...(extra.length ? [`not in the repository: ${extra.map(short).join(', ')}`] : []), ...(missing.length ? [`missing from the configuration: ${missing.map(short).join(', ')}`] : [])];
    throw new UsageError(
      `age.recipients differ from the recipients recorded in ${this.storage.location}/repo.json (${parts.join('; ')}): new backups must open with the repository's keys; fix age.recipients, or change the repository's recipients on purpose with "dbops keys add-recipient" / "dbops keys remove-recipient"`,
    );
  }

  /** Re-sign repo.json with a new recipient list (the only way recipients change). */
  async updateRecipients(recipients: readonly string[]): Promise<RepoConfig> {
    if (recipients.length === 0) throw new UsageError('a repository needs at least one age recipient; add another before removing the last');
    const { signature: _old, format: _f, version: _v, ...body } = this.config;
    const { doc, bytes } = encodeDocument(
      repoConfigDoc,
      { ...body, recipients: recipients.map((r) => ({ fingerprint: recipientFingerprint(r), recipient: r })), recipientsChangedAt: new Date().toISOString() },
      this.signer(),
    );
    await this.storage.put(repoJsonKey, bytes, { contentType: 'application/json' });
    return doc;
  }
}

export async function initRepository(storage: Storage, signingKey: SigningKey, recipients: readonly string[]): Promise<RepoConfig> {
  if (await storage.stat(repoJsonKey)) {
    throw new UsageError(`a repository already exists at ${storage.location}; refusing to overwrite its repo.json (choose another storage URL)`);
  }
  const { doc, bytes } = encodeDocument(
    repoConfigDoc,
    {
      id: randomUUID(),
      created: new Date().toISOString(),
      signingPublicKey: signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      signingKeyId: signingKey.keyId,
      recipients: recipients.map((r) => ({ fingerprint: recipientFingerprint(r), recipient: r })),
    },
    signingKey,
  );
  await storage.put(repoJsonKey, bytes, { contentType: 'application/json' });
  return doc;
}

export interface OpenOptions {
  /** An auditor's out-of-band public key: repo.json and everything else must be signed by it. */
  pinned?: KeyObject;
  /** Open for writing: repo.json must be signed by this key (the backup host's own). */
  signer?: SigningKey;
}

/** Open and verify repo.json. */
export async function openRepository(storage: Storage, options: OpenOptions = {}): Promise<Repository> {
  let bytes: Buffer;
  try {
    bytes = await storage.getBuffer(repoJsonKey);
  } catch (err) {
    if (isNotFound(err)) throw new UsageError(`no repository at ${storage.location}: run "dbops init" first (or check DBOPS_STORAGE_URL)`);
    throw err;
  }
  const signer = options.signer;
  if (signer && options.pinned && keyIdOf(options.pinned) !== signer.keyId) {
    // The pinned key says what the repository must be: judged first (a repository it did not
    // sign is a verification failure), then the host's own key that disagrees with it.
    parseRepoConfig(bytes, options.pinned);
    throw new UsageError(`signing.publicKeyFile (key ${keyIdOf(options.pinned)}) is not the public half of signing.keyFile (key ${signer.keyId}); fix one of them`);
  }
  const pinned = options.pinned ?? signer?.publicKey;
  let parsed;
  try {
    parsed = parseRepoConfig(bytes, pinned);
  } catch (err) {
    if (signer && err instanceof VerificationError) {
      throw new VerificationError(
        `refusing to write: ${storage.location}/repo.json is not signed by this host's signing key ${signer.keyId} (${err.message}); the repository description was replaced, or storage.url points at another repository: restore the original repo.json or check the configuration`,
        repoJsonKey,
        { cause: err },
      );
    }
    throw err;
  }
  return new Repository(storage, parsed.repo, parsed.publicKey, signer);
}
