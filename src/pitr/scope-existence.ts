// Whether the table or database a scoped recovery asks for still exists at the point it
// reaches. The base holds it (the restore plan checked that), but the binlog between the
// base and the stop may drop or rename it: replayed, that leaves an empty schema that looks
// like a success. The DDL of the replayed range is followed in order (a table dropped and
// created again exists), and the statement that removed it for good is named, so the
// responder can recover with --before it. Text matching on decoded statements, not SQL
// parsing: DROP/RENAME/ALTER … RENAME/CREATE of tables and sequences, DROP/CREATE of
// databases. Names compare without case: on a server with lower_case_table_names a DROP may
// spell the name differently, and a false refusal is cheaper than an empty recovery.
import type { DecodedTransaction } from './decode-events.js';

export interface ScopeObject {
  database: string;
  /** Absent for a whole database. */
  table?: string;
}

export interface Removal {
  verb: 'dropped' | 'renamed';
  /** The transaction that removed it: `--before file:position` stops just before it. */
  file: string;
  position: number;
  time: string;
  gtid: string | null;
  statement: string;
}

interface Name {
  db: string | null;
  table: string;
}

const IDENT = '(?:`(?:[^`]|``)+`|[\\w$]+)';
const NAME = `${IDENT}(?:\\s*\\.\\s*${IDENT})?`;
const DROP_TABLES = /^DROP\s+(TEMPORARY\s+)?(?:TABLES?|SEQUENCE)\s+(?:IF\s+EXISTS\s+)?([\s\S]+?)(?:\s+(?:WAIT\s+\d+|NOWAIT))?(?:\s+(?:RESTRICT|CASCADE))?\s*$/i;
const RENAME_TABLES = /^RENAME\s+TABLES?\s+(?:IF\s+EXISTS\s+)?([\s\S]+)$/i;
const RENAME_PAIR = new RegExp(`^(${NAME})(?:\\s+(?:WAIT\\s+\\d+|NOWAIT))?\\s+TO\\s+(${NAME})$`, 'i');
const ALTER_TABLE = new RegExp(`^ALTER\\s+(?:ONLINE\\s+)?(?:IGNORE\\s+)?(?:TABLE|SEQUENCE)\\s+(?:IF\\s+EXISTS\\s+)?(${NAME})\\s+([\\s\\S]*)$`, 'i');
const ALTER_RENAME = new RegExp(`^RENAME\\s+(?!(?:COLUMN|INDEX|KEY)\\b)(?:TO\\s+|AS\\s+)?(${NAME})$`, 'i');
const CREATE_TABLE = new RegExp(`^CREATE\\s+(?:OR\\s+REPLACE\\s+)?(TEMPORARY\\s+)?(?:TABLE|SEQUENCE)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(${NAME})`, 'i');
const DROP_DATABASE = new RegExp(`^DROP\\s+(?:DATABASE|SCHEMA)\\s+(?:IF\\s+EXISTS\\s+)?(${IDENT})`, 'i');
const CREATE_DATABASE = new RegExp(`^CREATE\\s+(OR\\s+REPLACE\\s+)?(?:DATABASE|SCHEMA)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(${IDENT})`, 'i');

const unquote = (s: string): string => (s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s);

function parseName(text: string, defaultDb: string | null): Name {
  const parts = splitTop(text.trim(), '.').map((p) => unquote(p.trim()));
  return parts.length === 2 ? { db: parts[0]!, table: parts[1]! } : { db: defaultDb, table: parts[0]! };
}

/** Split on `sep` outside backquotes, quotes and parentheses. */
function splitTop(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '`' || c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** The statement as the server would read it: executable comments opened, other comments gone, one line. */
export function normalizeStatement(stmt: string): string {
  return stmt
    .replace(/\/\*M?!\d*\s?([\s\S]*?)\*\//g, '$1')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/;\s*$/, '')
    .trim();
}

export class ScopeExistence {
  /** What removed the object, while it stays removed; null while it exists. */
  removal: Removal | null = null;
  private readonly db: string;
  private readonly table: string | undefined;

  constructor(scope: ScopeObject) {
    this.db = scope.database.toLowerCase();
    this.table = scope.table?.toLowerCase();
  }

  /** Feed the replayed transactions in order. */
  transaction(tx: DecodedTransaction): void {
    for (const op of tx.operations) {
      if (op.type !== 'ddl' || op.statement === null || op.rows !== null) continue;
      this.statement(normalizeStatement(op.statement), op.defaultDatabase ?? null, tx);
    }
  }

  private isDb(name: string | null): boolean {
    return name !== null && name.toLowerCase() === this.db;
  }

  private isOurs(n: Name): boolean {
    return this.table !== undefined && this.isDb(n.db) && n.table.toLowerCase() === this.table;
  }

  private removed(verb: Removal['verb'], tx: DecodedTransaction, statement: string): void {
    this.removal = { verb, file: tx.file, position: tx.position, time: tx.time, gtid: tx.gtid, statement };
  }

  private statement(s: string, defaultDb: string | null, tx: DecodedTransaction): void {
    let m: RegExpExecArray | null;
    if ((m = DROP_DATABASE.exec(s))) {
      if (this.isDb(unquote(m[1]!))) this.removed('dropped', tx, s);
      return;
    }
    if ((m = CREATE_DATABASE.exec(s))) {
      if (!this.isDb(unquote(m[2]!))) return;
      if (this.table === undefined) this.removal = null;
      else if (m[1]) this.removed('dropped', tx, s); // OR REPLACE: the old database and its tables are gone
      return;
    }
    if (this.table === undefined) return;
    if ((m = DROP_TABLES.exec(s))) {
      if (!m[1] && splitTop(m[2]!, ',').some((n) => this.isOurs(parseName(n, defaultDb)))) this.removed('dropped', tx, s);
      return;
    }
    if ((m = RENAME_TABLES.exec(s))) {
      for (const pair of splitTop(m[1]!, ',')) {
        const p = RENAME_PAIR.exec(pair.trim());
        if (!p) continue;
        if (this.isOurs(parseName(p[1]!, defaultDb))) this.removed('renamed', tx, s);
        else if (this.isOurs(parseName(p[2]!, defaultDb))) this.removal = null;
      }
      return;
    }
    if ((m = ALTER_TABLE.exec(s))) {
      const from = parseName(m[1]!, defaultDb);
      for (const spec of splitTop(m[2]!, ',')) {
        const r = ALTER_RENAME.exec(spec.trim());
        if (!r) continue;
        const to = parseName(r[1]!, from.db);
        if (this.isOurs(from) && !this.isOurs(to)) this.removed('renamed', tx, s);
        else if (this.isOurs(to)) this.removal = null;
      }
      return;
    }
    if ((m = CREATE_TABLE.exec(s))) {
      if (!m[1] && this.isOurs(parseName(m[2]!, defaultDb))) this.removal = null;
    }
  }
}

/** `table shop.items` / `database shop`. */
export function describeScopeObject(o: ScopeObject): string {
  return o.table === undefined ? `database ${o.database}` : `table ${o.database}.${o.table}`;
}

/** One line naming the event, and the --before that stops just ahead of it. */
export function describeRemoval(o: ScopeObject, at: string, r: Removal): string {
  const stmt = r.statement.length > 160 ? `${r.statement.slice(0, 157)}…` : r.statement;
  return `${describeScopeObject(o)} does not exist at ${at}: ${r.verb} by ${r.file}:${r.position} at ${r.time}${r.gtid ? ` (GTID ${r.gtid})` : ''}: ${stmt}; recover it as it was just before with --before ${r.file}:${r.position}`;
}
