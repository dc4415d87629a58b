// Key files: present, loadable, and private keys readable by their owner only (0600);
// the signing key must be the one repo.json names, or every manifest it signs would
// be rejected by readers.
import type { Repository } from '../repo/repository.js';
import { loadSigningKey, keyIdOf } from '../crypto/signing.js';
import { resolveRecipients } from '../crypto/age.js';
import { keyFileMode, type KeyFileMode } from '../crypto/private-key-file.js';
import type { Config } from '../config/schema.js';
import { check, type DoctorCheck } from './check.js';

async function privateFileCheck(id: string, title: string, path: string): Promise<DoctorCheck | undefined> {
  let m: KeyFileMode;
  try {
    m = await keyFileMode(path);
  } catch (err) {
    return check(id, title, 'fail', `${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, `point the setting at an existing file (dbops keys generate makes one)`);
  }
  // The rule every command applies when it loads the key (crypto/private-key-file.ts).
  if (m.problem) return check(id, title, 'fail', m.problem, `chmod 600 ${path}`);
  if (!m.ours) return check(id, title, 'warn', `${path} is owned by uid ${m.uid}, not by this user (${process.getuid?.()}), mode ${m.mode}`, `chown $(id -u) ${path} && chmod 600 ${path}`);
  return undefined;
}

export async function keyChecks(config: Config, repo: Repository | undefined): Promise<DoctorCheck[]> {
  const repoKey = repo?.publicKey;
  const out: DoctorCheck[] = [];
  const keyFile = config.signing.keyFile;
  if (!keyFile) {
    out.push(check('keys.signing', 'signing key', 'fail', 'signing.keyFile is not set', 'set DBOPS_SIGNING_KEY_FILE to signing.key from "dbops keys generate"'));
  } else {
    const bad = await privateFileCheck('keys.signing', 'signing key', keyFile);
    if (bad?.status === 'fail') out.push(bad);
    else {
      try {
        const key = await loadSigningKey(keyFile);
        if (repoKey && keyIdOf(repoKey) !== key.keyId) {
          out.push(check('keys.signing', 'signing key', 'fail', `${keyFile} (key ${key.keyId}) is not the repository's signing key (${keyIdOf(repoKey)}): readers would reject what it signs`, 'use the signing.key this repository was initialised with'));
        } else out.push(bad ?? check('keys.signing', 'signing key', 'ok', `${keyFile}: Ed25519 key ${key.keyId}, mode 0600${repoKey ? ', matches repo.json' : ''}`));
      } catch (err) {
        out.push(check('keys.signing', 'signing key', 'fail', (err as Error).message, 'use signing.key from "dbops keys generate"'));
      }
    }
  }
  // Unset age.recipients means repo.json's list (what writers then use); set, it must be exactly that list.
  try {
    if (config.age.recipients.length === 0 && repo) {
      out.push(check('keys.recipients', 'age recipients', 'ok', `${repo.recipients.length} recipient(s) from repo.json (age.recipients unset)`));
    } else {
      const recipients = await resolveRecipients(config.age.recipients);
      if (repo) repo.checkRecipients(recipients);
      out.push(check('keys.recipients', 'age recipients', 'ok', `${recipients.length} recipient(s)${repo ? ', the same as repo.json\'s' : ''}`));
    }
  } catch (err) {
    out.push(check('keys.recipients', 'age recipients', 'fail', (err as Error).message, 'set DBOPS_AGE_RECIPIENTS to the repository\'s age1… keys (or leave it unset to use repo.json\'s); change them with dbops keys add-recipient/remove-recipient'));
  }
  if (config.age.identityFile) {
    const bad = await privateFileCheck('keys.identity', 'age identity (private key)', config.age.identityFile);
    out.push(bad ?? check('keys.identity', 'age identity (private key)', 'ok', `${config.age.identityFile}: mode 0600 (a backup host needs only the recipients; keep this key off it if you can)`));
  }
  return out;
}
