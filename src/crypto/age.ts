// age encryption by wrapping the stock `age` binary (measured 612 MB/s vs 59 MB/s for
// age in pure JavaScript), so every archive also opens with `age -d` by hand.
// Recipients are public and may appear in argv; identities are passed as file paths only.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ToolError, UsageError } from '../errors.js';
import { startTool, waitTool, type ToolProcess } from '../util/tool-process.js';
import { assertPrivateKeyFile } from './private-key-file.js';

const RECIPIENT_RE = /^age1[0-9a-z]{58}$/;

/**
 * Resolve configured recipients: each entry is an `age1…` public key or a path to a
 * file of them (one per line, `#` comments allowed, like `age -R`).
 */
export async function resolveRecipients(entries: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const entry of entries) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    if (trimmed.startsWith('age1')) {
      if (!RECIPIENT_RE.test(trimmed)) throw new UsageError(`age recipient "${trimmed.slice(0, 12)}…" is malformed: expected age1 followed by 58 characters`);
      out.push(trimmed);
      continue;
    }
    let text: string;
    try {
      text = await readFile(trimmed, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read age recipients file ${trimmed}: ${(err as NodeJS.ErrnoException).code ?? err}; set DBOPS_AGE_RECIPIENTS to age1… keys or readable files`);
    }
    const keys = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    if (keys.length === 0) throw new UsageError(`age recipients file ${trimmed} holds no recipient; generate one with "dbops keys generate"`);
    for (const k of keys) {
      if (!RECIPIENT_RE.test(k)) throw new UsageError(`age recipients file ${trimmed} has a malformed line "${k.slice(0, 12)}…": expected age1… public keys`);
      out.push(k);
    }
  }
  if (out.length === 0) throw new UsageError('no age recipients configured: set age.recipients (DBOPS_AGE_RECIPIENTS) to a public key or a file from "dbops keys generate"');
  const unique = [...new Set(out)];
  await checkWithAge(unique);
  return unique;
}

/**
 * The form check above cannot see a mistyped character: an age1… key ends in a bech32
 * checksum. age itself judges every recipient when it encrypts nothing to them (~5 ms), so
 * a bad one is refused before anything starts instead of failing the first part's upload.
 */
async function checkWithAge(recipients: readonly string[]): Promise<void> {
  const proc = startEncrypt(recipients);
  proc.stdin.end();
  proc.stdout.resume();
  try {
    await waitTool(proc, 'age');
  } catch (err) {
    const m = /malformed recipient "([^"]*)": ([^|]+)/.exec(err instanceof ToolError ? err.stderrTail : '');
    if (!m) throw err;
    throw new UsageError(`age recipient "${m[1]!.slice(0, 12)}…" is not a valid age public key (${m[2]!.trim()}): copy it again from age.pub, or make a new pair with "dbops keys generate"`);
  }
}

/** Short stable fingerprint of a recipient, recorded in repo.json and manifests. */
export function recipientFingerprint(recipient: string): string {
  return createHash('sha256').update(recipient).digest('hex').slice(0, 16);
}

/**
 * `age -e` reading plaintext on stdin, writing the age binary format on stdout. `stdin`: a
 * file descriptor to read the plaintext from (a pipe another program writes) instead of from
 * us; `stdout`: the object's file, or a kernel pipe node reads, instead of a child stream of
 * ours. Then nothing of ours breaks its output when dbops dies, so it dies with dbops
 * (setpriv): kill -9 of dbops stops it and, through their broken pipes, the programs feeding it.
 */
export function startEncrypt(recipients: readonly string[], options: { stdin?: number; stdout?: number } = {}): ToolProcess {
  return startTool('age', ['--encrypt', ...recipients.flatMap((r) => ['-r', r])], {
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    ...(options.stdout !== undefined ? { stdout: options.stdout, dieWithParent: true } : {}),
  });
}

/**
 * `age -d` with an identity file (the path is not a secret, its content is), reading the
 * ciphertext from `stdin`, an open file, and writing the plaintext into `stdout`, a pipe
 * another program reads. Nothing of ours is in its way, so it dies with dbops (setpriv).
 */
export function startDecrypt(identityFile: string, options: { stdin: number; stdout: number }): ToolProcess {
  return startTool('age', ['--decrypt', '-i', identityFile], { stdin: options.stdin, stdout: options.stdout, dieWithParent: true });
}

/** Fail early with a clear message when the identity file is missing or unreadable. */
export async function checkIdentityFile(path: string | undefined): Promise<string> {
  if (!path) throw new UsageError('no age identity configured: set DBOPS_AGE_IDENTITY_FILE (or age.identityFile) to the private key from "dbops keys generate"');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read age identity file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}; check the path and permissions`);
  }
  if (!/AGE-SECRET-KEY-1[0-9A-Z]+/.test(text)) throw new UsageError(`age identity file ${path} holds no AGE-SECRET-KEY; point DBOPS_AGE_IDENTITY_FILE at the age.key from "dbops keys generate"`);
  await assertPrivateKeyFile(path, 'age identity file');
  return path;
}
