// Private key files (age identity, signing key) must not be open to other users, by the
// rule ssh applies to its own keys (sshkey_perm_ok): a key file owned by the user running
// us with any group or other permission bit is refused. A file owned by someone else
// (root-owned secrets mounted into a container) is that owner's decision, as for ssh;
// doctor warns about it.
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';

export interface KeyFileMode {
  /** e.g. "0644" */
  mode: string;
  uid: number;
  /** Owned by the user running dbops. */
  ours: boolean;
  /** Set when other users may read or change it and it is ours: the reason to refuse it. */
  problem?: string;
}

/** Mode and owner of a key file; throws the errno error when it cannot be read. */
export async function keyFileMode(path: string): Promise<KeyFileMode> {
  const s = await stat(path);
  const mode = (s.mode & 0o777).toString(8).padStart(4, '0');
  const ours = !process.getuid || s.uid === process.getuid();
  const problem = ours && s.mode & 0o077 ? `${path} is mode ${mode}: other users can read this private key` : undefined;
  return { mode, uid: s.uid, ours, ...(problem ? { problem } : {}) };
}

/** Refuse (exit 2) a private key file that group or others may read; `what` names it, e.g. "signing key file". */
export async function assertPrivateKeyFile(path: string, what: string): Promise<void> {
  let m: KeyFileMode;
  try {
    m = await keyFileMode(path);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}; check the path and permissions`);
  }
  if (m.problem) throw new UsageError(`${what} ${m.problem}; chmod 600 ${path}`);
}
