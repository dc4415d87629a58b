// repo.json: the repository's identity and trust anchor (format version, id, signing
// public key, age recipients), itself signed so it cannot be swapped quietly.
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { publicKeyFromPem } from '../crypto/signing.js';
import { verifyDocument } from '../crypto/signing.js';
import { checkShape, documentType, parseJson, type SignedDoc, type UnsignedDoc } from './signed-document.js';

export const REPO_FORMAT = 'horizn-dbops/repository';
export const REPO_VERSION = 1;

export const repoConfigDoc = documentType(REPO_FORMAT, REPO_VERSION, 'repository description', {
  id: z.string(),
  created: z.string(),
  signingPublicKey: z.string(),
  signingKeyId: z.string(),
  /** Who can open new backups. Changed only on purpose (`dbops keys add-recipient/remove-recipient`). */
  recipients: z.array(z.object({ fingerprint: z.string(), recipient: z.string() })),
  /** When the recipients were last changed on purpose (absent: never since init). */
  recipientsChangedAt: z.string().optional(),
});
export type RepoConfig = SignedDoc<typeof repoConfigDoc>;
export type UnsignedRepoConfig = UnsignedDoc<typeof repoConfigDoc>;

/**
 * Parse repo.json and check it is signed by its own key — or, when the caller pins a
 * key out of band (auditors, the backup host's own signing key), by that key.
 */
export function parseRepoConfig(bytes: Buffer, pinned?: KeyObject): { repo: RepoConfig; publicKey: KeyObject } {
  const json = parseJson(bytes, 'repo.json', repoConfigDoc.what);
  const repo = checkShape(repoConfigDoc, json, 'repo.json');
  const publicKey = pinned ?? publicKeyFromPem(repo.signingPublicKey, 'repo.json signingPublicKey');
  verifyDocument(json, publicKey, 'repo.json');
  return { repo, publicKey };
}
