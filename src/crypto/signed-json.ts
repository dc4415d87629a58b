// Reading any signed JSON document of ours (manifests, segment and gap records, archive
// manifests, reports): parse, verify the Ed25519 signature, then check the shape. Every
// problem is a VerificationError (exit 3) naming the object and what it should have been.
import type { KeyObject } from 'node:crypto';
import type { ZodType } from 'zod';
import { verifyDocument } from './signing.js';
import { VerificationError } from '../errors.js';

export function parseSignedJson<T>(bytes: Buffer, key: string, publicKey: KeyObject, schema: ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new VerificationError(`${key} is not valid JSON: the ${what} is damaged`, key);
  }
  verifyDocument(json, publicKey, key);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VerificationError(`${key} is signed but is not a valid ${what}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(), key);
  }
  return parsed.data;
}
