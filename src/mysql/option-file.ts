// Reads the `[client]` group of a MySQL option file (`~/.my.cnf`, a `--defaults-file`), so
// the node connection and the spawned tools log in with what the file says: user, password,
// host, port, socket, database and the ssl-* settings. Parsing follows mysys's rules
// (my_default.c): `#`/`;` comment lines, `#` after a value outside quotes, a matching
// pair of quotes stripped with \\ \" \' \n \t \r \b \s escapes inside, `-` and `_` alike,
// a `loose-` prefix ignored. Other options (default-character-set…) are the tools' own.
import { UsageError } from '../errors.js';
import { parseSslMode, type TlsSettings } from './tls-settings.js';

export interface OptionFileClient {
  user?: string;
  password?: string;
  host?: string;
  port?: number;
  socket?: string;
  database?: string;
  tls?: TlsSettings;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/** A value as mysys reads it: trimmed, `#` comments cut outside quotes, one pair of quotes stripped. */
function optionValue(raw: string): string {
  let v = raw.trim();
  const q = v[0];
  if ((q === '"' || q === "'") && v.length >= 2) {
    let out = '';
    for (let i = 1; i < v.length; i++) {
      const ch = v[i]!;
      if (ch === '\\' && i + 1 < v.length) {
        const next = v[++i]!;
        out += ESCAPES[next] ?? `\\${next}`;
      } else if (ch === q) {
        return out;
      } else out += ch;
    }
    // No closing quote: mysys keeps the text as written.
    return v;
  }
  const hash = v.indexOf('#');
  if (hash >= 0) v = v.slice(0, hash).trimEnd();
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\' && i + 1 < v.length && ESCAPES[v[i + 1]!] !== undefined) out += ESCAPES[v[++i]!];
    else out += ch;
  }
  return out;
}

/** Options of the groups named, later lines winning, keys normalised (`ssl_ca` → `ssl-ca`). */
export function parseOptionFile(text: string, groups: readonly string[], where: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  let inGroup = false;
  for (const [n, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('!')) throw new UsageError(`${where} line ${n + 1}: ${line.split(/\s/)[0]} is not supported here; put the settings in this file`);
    const group = /^\[([^\]]+)\]/.exec(line);
    if (group) {
      inGroup = groups.includes(group[1]!.trim().toLowerCase());
      continue;
    }
    if (!inGroup) continue;
    const eq = line.indexOf('=');
    const key = (eq >= 0 ? line.slice(0, eq) : line.split('#')[0]!).trim().toLowerCase().replace(/_/g, '-').replace(/^loose-/, '');
    out.set(key, eq >= 0 ? optionValue(line.slice(eq + 1)) : undefined);
  }
  return out;
}

const TRUE = /^(1|true|on|yes)$/i;

/** The connection settings in the `[client]` group of an option file's text. */
export function clientOptions(text: string, where: string): OptionFileClient {
  const o = parseOptionFile(text, ['client'], where);
  const out: OptionFileClient = {};
  for (const k of ['user', 'password', 'host', 'socket', 'database'] as const) {
    const v = o.get(k);
    if (v !== undefined) out[k] = v;
  }
  const port = o.get('port');
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${where}: invalid port "${port}": use 1-65535`);
    out.port = n;
  }
  const tls: TlsSettings = {};
  if (o.has('ssl-verify-server-cert') && (o.get('ssl-verify-server-cert') === undefined || TRUE.test(o.get('ssl-verify-server-cert')!))) tls.mode = 'VERIFY_IDENTITY';
  if (o.has('skip-ssl') || o.has('disable-ssl') || o.get('ssl') === '0' || o.get('ssl') === 'OFF') tls.mode = 'DISABLED';
  const mode = o.get('ssl-mode');
  if (mode !== undefined) tls.mode = parseSslMode(mode, where);
  for (const [opt, field] of [['ssl-ca', 'ca'], ['ssl-cert', 'cert'], ['ssl-key', 'key']] as const) {
    const v = o.get(opt);
    if (v) tls[field] = v;
  }
  if (Object.keys(tls).length) out.tls = tls;
  return out;
}
