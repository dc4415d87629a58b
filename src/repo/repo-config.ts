// repo.json: the repository's identity and trust anchor (format version, id, signing
// public key, age recipient fingerprints), itself signed so it cannot be swapped quietly.
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { verifyDocument, publicKeyFromPem } from '../crypto/signing.js';
import { VerificationError } from '../errors.js';

export const REPO_FORMAT = 'horizn-dbops/repository';
export const REPO_VERSION = 1;

export const repoSchema = z.object({
  format: z.literal(REPO_FORMAT),
  version: z.literal(REPO_VERSION),
  id: z.string(),
  created: z.string(),
  signingPublicKey: z.string(),
  signingKeyId: z.string(),
  recipients: z.array(z.object({ fingerprint: z.string(), recipient: z.string() })),
  signature: z.object({ alg: z.literal('ed25519'), keyId: z.string(), value: z.string() }),
});
export type RepoConfig = z.infer<typeof repoSchema>;

/**
 * Parse repo.json and check it is signed by its own key — or, when the caller pins a
 * key out of band (auditors), by that key.
 */
export function parseRepoConfig(bytes: Buffer, pinned?: KeyObject): { repo: RepoConfig; publicKey: KeyObject } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new VerificationError('repo.json is not valid JSON: the repository is damaged', 'repo.json');
  }
  const parsed = repoSchema.safeParse(json);
  if (!parsed.success) throw new VerificationError(`repo.json is not a horizn-dbops repository description (${parsed.error.issues[0]?.path.join('.')})`, 'repo.json');
  const publicKey = pinned ?? publicKeyFromPem(parsed.data.signingPublicKey, 'repo.json signingPublicKey');
  verifyDocument(json, publicKey, 'repo.json');
  return { repo: parsed.data, publicKey };
}
