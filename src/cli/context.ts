// What every command needs, built the same way: the validated config (file < env < flags),
// the storage and repository, an AbortSignal wired to SIGINT/SIGTERM, and output helpers
// (--json on stdout; human text on stdout; logs on stderr).
import { loadConfig, requireSetting, type Overrides } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { openStorage } from '../storage/open-storage.js';
import { objectLockOptions } from '../storage/object-lock.js';
import type { Storage } from '../storage/storage.js';
import { openRepository, type Repository } from '../repo/repository.js';
import type { KeyObject } from 'node:crypto';
import { loadPublicKeyFile, loadSigningKey } from '../crypto/signing.js';
import { resolveRecipients } from '../crypto/age.js';
import { recordAdminActionsIn } from '../audit/admin-action.js';
import { UsageError } from '../errors.js';
import { log } from '../util/logger.js';
import type { LogLevel } from '../util/logger.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  storage?: string;
  verbose?: boolean;
  quiet?: boolean;
  logLevel?: LogLevel;
}

export class CommandContext {
  private abort = new AbortController();
  private signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  private constructor(
    readonly config: Config,
    readonly json: boolean,
  ) {}

  static async create(globals: GlobalOptions, flags: Overrides = {}): Promise<CommandContext> {
    const config = await loadConfig({
      ...(globals.config !== undefined ? { file: globals.config } : {}),
      flags: { 'storage.url': globals.storage, ...flags },
    });
    return new CommandContext(config, globals.json ?? false);
  }

  async storage(): Promise<Storage> {
    const objectLock = objectLockOptions(this.config);
    return openStorage(requireSetting(this.config.storage.url, 'storage.url', '--storage'), objectLock ? { objectLock } : {});
  }

  /** Open for reading: everything is checked against repo.json's key, or the pinned one. */
  async repository(): Promise<Repository> {
    return openRepository(await this.storage(), { pinned: await this.pinnedKey() });
  }

  /**
   * Open for writing with this host's signing key: refused (exit 3) when that key did not
   * sign repo.json, and (exit 2) when configured age recipients differ from repo.json's.
   * New archives are encrypted to repo.json's recipients, so age.recipients may be left unset.
   */
  async writableRepository(): Promise<Repository> {
    // age's check of the recipients (a process start) runs while repo.json is read; its
    // verdict still comes before the repository's, as when they ran one after the other.
    const recipients = this.config.age.recipients.length ? resolveRecipients(this.config.age.recipients) : Promise.resolve([]);
    recipients.catch(() => undefined);
    const [storage, pinned, signer] = await Promise.all([this.storage(), this.pinnedKey(), loadSigningKey(this.config.signing.keyFile)]);
    const opened = openRepository(storage, { pinned, signer });
    opened.catch(() => undefined);
    const configured = await recipients;
    const repo = await opened;
    if (configured.length) repo.checkRecipients(configured);
    recordAdminActionsIn(repo);
    return repo;
  }

  /**
   * For commands that read but leave evidence (verify, restore, pitr): with this host's signing
   * key when one is configured (then held to the same checks as a writer), else read-only and
   * the evidence log is not written (an auditor's machine).
   */
  async repositoryForEvidence(): Promise<Repository> {
    return this.config.signing.keyFile ? this.writableRepository() : this.repository();
  }

  /**
   * Commands that change the horizn_ database (migrate, partitions) open the repository for
   * their evidence when one is configured with a signing key; without one they only log.
   */
  async adminEvidence(): Promise<void> {
    if (this.config.storage.url && this.config.signing.keyFile) {
      try {
        await this.writableRepository();
      } catch (err) {
        // No repository there yet (not initialised): the action is still logged. A repository
        // that does not verify is not stepped over.
        if (!(err instanceof UsageError)) throw err;
        log.warn({ err: err.message }, 'administrative actions are only logged: the evidence log cannot be opened');
      }
    } else log.info('administrative actions are only logged: no repository with a signing key is configured for the evidence log');
  }

  private async pinnedKey(): Promise<KeyObject | undefined> {
    return this.config.signing.publicKeyFile ? loadPublicKeyFile(this.config.signing.publicKeyFile) : undefined;
  }

  /**
   * Aborted on the first SIGINT/SIGTERM so the command can clean up (kill its children,
   * remove partial uploads) and exit on its own. The listeners stay until the command
   * releases them: were they removed, a re-raised signal (execa's signal-exit does that)
   * would kill the process mid-cleanup. A second signal means "now": exit 130.
   */
  get signal(): AbortSignal {
    if (this.signalHandlers.length === 0) {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        const handler = (): void => {
          if (this.abort.signal.aborted) process.exit(130);
          this.abort.abort(sig);
        };
        process.on(sig, handler);
        this.signalHandlers.push([sig, handler]);
      }
    }
    return this.abort.signal;
  }

  releaseSignals(): void {
    for (const [sig, h] of this.signalHandlers) process.removeListener(sig, h);
    this.signalHandlers = [];
  }

  /** --json: the value as JSON; otherwise the human text. */
  print(value: unknown, human: () => string): void {
    process.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }
}
