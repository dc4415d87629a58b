// TLS settings of one connection, with the MySQL client's names and meanings, so a user
// who knows `mysql --ssl-mode=VERIFY_IDENTITY --ssl-ca=…` knows ours: the mode says how
// much is checked, the files are paths. One value feeds mysql2 (node) and every spawned tool.
import { UsageError } from '../errors.js';

export const SSL_MODES = ['DISABLED', 'PREFERRED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface TlsSettings {
  /** PREFERRED when unset, as the clients default: TLS when the server offers it, nothing verified. */
  mode?: SslMode;
  /** CA certificate(s) (PEM) the server certificate must chain to; unset: the system's CAs. */
  ca?: string;
  /** Client certificate and key (PEM), for accounts created with REQUIRE X509 / SUBJECT. */
  cert?: string;
  key?: string;
}

/** An ssl-mode value, case-insensitive as the clients take it; UsageError naming where it came from. */
export function parseSslMode(value: string, where: string): SslMode {
  const mode = value.trim().toUpperCase();
  if ((SSL_MODES as readonly string[]).includes(mode)) return mode as SslMode;
  throw new UsageError(`invalid ssl-mode "${value}" in ${where}: use ${SSL_MODES.join(', ')}`);
}

export function effectiveMode(tls: TlsSettings | undefined): SslMode {
  return tls?.mode ?? 'PREFERRED';
}

/** The server certificate is checked (chain, and with VERIFY_IDENTITY the host name). */
export function verifiesCertificate(mode: SslMode): boolean {
  return mode === 'VERIFY_CA' || mode === 'VERIFY_IDENTITY';
}

/** Problems of a combination (empty when fine), each naming `where`. */
export function tlsProblems(tls: TlsSettings | undefined, where: string): string[] {
  if (!tls) return [];
  const out: string[] = [];
  if (Boolean(tls.cert) !== Boolean(tls.key)) out.push(`${where}: ssl-cert and ssl-key go together (the client certificate and its private key)`);
  return out;
}

/** Later layers win per field (defaults file < URL < config keys). */
export function mergeTls(...layers: Array<TlsSettings | undefined>): TlsSettings | undefined {
  const out: TlsSettings = {};
  for (const l of layers) {
    if (!l) continue;
    for (const k of ['mode', 'ca', 'cert', 'key'] as const) if (l[k] !== undefined) (out as Record<string, string>)[k] = l[k]!;
  }
  return Object.keys(out).length ? out : undefined;
}
