// The one codec for every signed document in a repository (repo.json, backup manifests,
// segment manifests, gap records, the shipper heartbeat, checksum sets, reports, archive
// manifests, evidence entries): a `format` and `version` that say what it is, a body
// checked by a zod schema, and an Ed25519 signature over the canonical JSON (RFC 8785) of
// everything else. Stored pretty-printed so people can read it; the signature does not
// depend on the layout. Every read problem is a VerificationError (exit 3) naming the
// object, so one kind of damage reads the same wherever it is found.
import { createHash, type KeyObject } from 'node:crypto';
import { z, type ZodObject, type ZodRawShape } from 'zod';
import { canonicalBytes, signDocument, verifyDocument, type SigningKey } from '../crypto/signing.js';
import { VerificationError } from '../errors.js';

const signatureSchema = z.object({ alg: z.literal('ed25519'), keyId: z.string(), value: z.string() });

/** A kind of signed document: its format name, version and body schema. */
export interface DocumentType<Body extends ZodRawShape> {
  format: string;
  version: number;
  /** What a person calls it ("backup manifest"), for messages. */
  what: string;
  schema: ZodObject<Body & { format: z.ZodLiteral<string>; version: z.ZodLiteral<number>; signature: typeof signatureSchema }>;
}

export type SignedDoc<T extends DocumentType<ZodRawShape>> = z.infer<T['schema']>;
export type UnsignedDoc<T extends DocumentType<ZodRawShape>> = Omit<SignedDoc<T>, 'signature' | 'format' | 'version'>;

export function documentType<Body extends ZodRawShape>(format: string, version: number, what: string, body: Body): DocumentType<Body> {
  const schema = z.object({ ...body, format: z.literal(format), version: z.literal(version), signature: signatureSchema });
  return { format, version, what, schema: schema as DocumentType<Body>['schema'] };
}

/** Sign a body as a document of `type`; returns the document and the bytes to store. */
export function encodeDocument<T extends DocumentType<ZodRawShape>>(type: T, body: UnsignedDoc<T>, signer: SigningKey): { doc: SignedDoc<T>; bytes: Buffer } {
  const doc = signDocument({ format: type.format, version: type.version, ...(body as object) }, signer) as SignedDoc<T>;
  return { doc, bytes: documentBytes(doc) };
}

export function documentBytes(doc: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
}

/** Parse, check the signature with `publicKey`, then the shape; `key` names the object in errors. */
export function decodeDocument<T extends DocumentType<ZodRawShape>>(type: T, bytes: Buffer, key: string, publicKey: KeyObject): SignedDoc<T> {
  const json = parseJson(bytes, key, type.what);
  verifyDocument(json, publicKey, key);
  return checkShape(type, json, key);
}

export function parseJson(bytes: Buffer, key: string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new VerificationError(`${key} is not valid JSON: the ${what} is damaged`, key);
  }
}

export function checkShape<T extends DocumentType<ZodRawShape>>(type: T, json: unknown, key: string): SignedDoc<T> {
  const format = (json as { format?: unknown }).format;
  if (format !== type.format) throw new VerificationError(`${key} is a ${String(format ?? 'document without format')}, not a ${type.what} (${type.format})`, key);
  const parsed = type.schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VerificationError(`${key} is signed but is not a valid ${type.what} of version ${type.version}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(), key);
  }
  return parsed.data as SignedDoc<T>;
}

/** sha256 (hex) of a signed document's canonical JSON, signature included: what a chain links to. */
export function documentHash(doc: unknown): string {
  return createHash('sha256').update(canonicalBytes(doc)).digest('hex');
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
