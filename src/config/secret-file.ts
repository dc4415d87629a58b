// Secrets read from files (Docker/Kubernetes secrets, `*_FILE` variables, MySQL option
// files): refused when group or others may read them, as ssh refuses such keys — a
// password in a world-readable file is a password every local user has.
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** Mode, owner and kind of `path`, or a ConfigError naming the setting that points at it. */
function checkPrivate(path: string, setting: string): void {
  let s;
  try {
    s = statSync(path);
  } catch (err) {
    throw new ConfigError([`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err}): point it at an existing file`]);
  }
  if (!s.isFile()) throw new ConfigError([`${setting}: ${path} is not a regular file`]);
  const mode = s.mode & 0o777;
  if (mode & 0o077) {
    throw new ConfigError([
      `${setting}: ${path} is mode ${mode.toString(8).padStart(4, '0')}, readable by other users; run chmod 600 ${path} (Kubernetes: defaultMode 0400 and runAsUser owning it; Docker secrets: mode 0400)`,
    ]);
  }
}

/**
 * The secret held in `path`: its text without one trailing newline (what `echo` and most
 * secret stores add); other whitespace is kept, since it may be part of a password.
 */
export function readSecretFile(path: string, setting: string): string {
  checkPrivate(path, setting);
  const text = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  if (text === '') throw new ConfigError([`${setting}: ${path} is empty`]);
  return text;
}

/** The text of a private file that holds secrets among other settings (a MySQL option file). */
export function readPrivateFile(path: string, setting: string): string {
  checkPrivate(path, setting);
  return readFileSync(path, 'utf8');
}
