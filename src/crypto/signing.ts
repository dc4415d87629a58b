// Ed25519 signatures over canonical JSON (RFC 8785 via `canonicalize`), so a manifest
// or report can be checked by anyone holding only the public key, offline.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, createHash, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import canonicalize from 'canonicalize';
import { UsageError, VerificationError } from '../errors.js';
import { assertPrivateKeyFile } from './private-key-file.js';

export interface Signature {
  alg: 'ed25519';
  keyId: string;
  value: string; // base64
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export function generateSigningKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Key id: first 16 hex of sha256 over the DER public key; pinned by auditors with the key. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function publicKeyFromPem(pem: string, what = 'public key'): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not ed25519 but ${key.asymmetricKeyType}`);
    return key;
  } catch (err) {
    throw new UsageError(`${what} is not an Ed25519 public key in PEM format (${(err as Error).message}); use signing.pub from "dbops keys generate"`);
  }
}

export async function loadSigningKey(path: string | undefined): Promise<SigningKey> {
  if (!path) throw new UsageError('no signing key configured: set DBOPS_SIGNING_KEY_FILE (or signing.keyFile) to signing.key from "dbops keys generate"');
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read signing key file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}; check the path and permissions`);
  }
  await assertPrivateKeyFile(path, 'signing key file');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new UsageError(`signing key file ${path} is not a PEM private key; use signing.key from "dbops keys generate"`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new UsageError(`signing key file ${path} is ${privateKey.asymmetricKeyType}, not Ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export async function loadPublicKeyFile(path: string): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read public key file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return publicKeyFromPem(pem, `public key file ${path}`);
}

export function canonicalBytes(value: unknown): Buffer {
  const text = (canonicalize as unknown as (v: unknown) => string | undefined)(value);
  if (text === undefined) throw new TypeError('value cannot be canonicalised');
  return Buffer.from(text, 'utf8');
}

/** Return a copy of `doc` with an embedded `signature` over everything else. */
export function signDocument<T extends object>(doc: T, key: SigningKey): T & { signature: Signature } {
  const { signature: _drop, ...body } = doc as T & { signature?: unknown };
  const value = sign(null, canonicalBytes(body), key.privateKey).toString('base64');
  return { ...(body as T), signature: { alg: 'ed25519', keyId: key.keyId, value } };
}

/**
 * Check the embedded signature with the given public key; throws VerificationError
 * (exit 3) naming `what` when it is missing, made by another key, or does not verify.
 */
export function verifyDocument(doc: unknown, publicKey: KeyObject, what: string): void {
  if (!doc || typeof doc !== 'object') throw new VerificationError(`${what} is not a JSON object`, what);
  const { signature, ...body } = doc as { signature?: Signature };
  if (!signature || signature.alg !== 'ed25519' || typeof signature.value !== 'string') {
    throw new VerificationError(`${what} carries no Ed25519 signature`, what);
  }
  const expectedKeyId = keyIdOf(publicKey);
  if (signature.keyId !== expectedKeyId) {
    throw new VerificationError(`${what} was signed by key ${signature.keyId}, not by the trusted key ${expectedKeyId}`, what);
  }
  const ok = verify(null, canonicalBytes(body), publicKey, Buffer.from(signature.value, 'base64'));
  if (!ok) throw new VerificationError(`${what}: signature does not verify (the document was altered or signed by another key)`, what);
}
