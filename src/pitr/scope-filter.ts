// Keeps what the recovery asked for in mariadb-binlog's decoded output, between the
// decoder and the client: account changes only with --accounts, and with a scope only what
// touches one database (or one table). mariadb-binlog's own --database filters statements
// by their DEFAULT database (a `DROP TABLE shop.orders` issued under `use other` is
// dropped; a `CREATE TABLE shop.t` issued with no default database too), and its --table
// affects only row events; so the decision is made here:
//   - account statements (CREATE/ALTER/DROP/RENAME USER or ROLE, GRANT, REVOKE, SET
//     PASSWORD, SET DEFAULT ROLE, statements naming a privilege table) and row events whose
//     tables are all privilege tables: kept only with --accounts (then in every scope, as the
//     backup's accounts part is restored whole). Without it a full recovery once created a
//     user with ALL PRIVILEGES on the target;
//   - row events: by their Table_map (`db`.`table`), whole BINLOG statements at a time;
//   - statements: kept when their default database is in scope (and, for a table, they
//     name it) or when they name the database qualified (`shop`.x / shop.x);
//     BEGIN/COMMIT/ROLLBACK/XA/SAVEPOINT and session SETs always pass;
//   - `use` of another database is dropped (it may not exist on the target);
//   - with a database scope, CREATE/ALTER/DROP DATABASE are kept only when they name it.
// With --into-schema, mariadb-binlog's --rewrite-db renames `use` and Table_maps (and prints
// the renamed `use` BEFORE its Query header, so `use` is read wherever it appears); names
// qualified inside statement text, and the name a database statement acts on, are renamed
// here: an unrenamed `DROP DATABASE shop` would drop the target's own shop. This is text
// matching, not SQL parsing: a statement that only mentions the name in a string literal is
// kept too.
import { Transform, type TransformCallback } from 'node:stream';
import type { RestoreScope } from '../restore/select-parts.js';
import { parseTableRef } from '../restore/select-parts.js';

/** Statements that change users, roles, grants or passwords. */
const ACCOUNT_STATEMENT = /^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:USER|ROLE)|ALTER\s+USER|DROP\s+(?:USER|ROLE)|RENAME\s+USER|GRANT|REVOKE|SET\s+(?:PASSWORD|DEFAULT\s+ROLE))\b/i;
/** The tables the server keeps accounts and grants in (MariaDB and MySQL). */
export const PRIVILEGE_TABLES = new Set(['user', 'global_priv', 'db', 'tables_priv', 'columns_priv', 'procs_priv', 'proxies_priv', 'roles_mapping', 'role_edges', 'default_roles', 'global_grants', 'password_history']);
const PRIVILEGE_TABLE_NAMED = new RegExp(`(?:\`mysql\`|(?<![\\w\`.])mysql)\\s*\\.\\s*\`?(?:${[...PRIVILEGE_TABLES].join('|')})\\b`, 'i');
/** Comments a client may send before the statement itself. */
const LEADING_COMMENTS = /^(?:\s+|\/\*(?!!)[\s\S]*?\*\/|(?:--\s|#)[^\n]*\n)*/;
/** CREATE/ALTER/DROP DATABASE with the name it acts on (group 2); ALTER DATABASE without a name acts on the default database. */
const DATABASE_STATEMENT = /^((?:CREATE\s+(?:OR\s+REPLACE\s+)?|ALTER\s+|DROP\s+)(?:DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?)(`(?:[^`]|``)+`|[\w$]+)(?=[\s;]|$)/i;
const USE_LINE = /^use `((?:[^`]|``)*)`\/\*!\*\/;$/;

export function isAccountStatement(text: string): boolean {
  return ACCOUNT_STATEMENT.test(text.replace(LEADING_COMMENTS, '')) || PRIVILEGE_TABLE_NAMED.test(text);
}

const unquote = (s: string): string => (s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s);
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Names are matched in the decoded bytes, read as latin1 so no byte is ever altered. */
const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

export class ScopeFilter extends Transform {
  private rest = '';
  private inQuery = false;
  private stmt: string[] = [];
  private binlogBlock: string[] | null = null;
  private rowTables: Array<{ db: string; table: string }> = [];
  private defaultInScope = false;
  /** Undefined for a full-scope recovery: every database passes. */
  private readonly dbs: Set<string> | undefined;
  private readonly table: string | undefined;
  private readonly qualified: RegExp | undefined;
  private readonly tableWord: RegExp | undefined;
  private readonly rename: { quoted: RegExp; bare: RegExp; to: string } | undefined;
  /** The database a whole-database scope recovers (undefined for a table or full scope). */
  private readonly database: string | undefined;
  private readonly accounts: boolean;
  /** Statements and row blocks left out (for the report). */
  dropped = 0;

  constructor(scope: RestoreScope) {
    super();
    this.accounts = scope.accounts ?? false;
    if (scope.table === undefined && scope.database === undefined) return;
    const ref = scope.table ? parseTableRef(scope.table) : { database: scope.database!, table: undefined };
    const db = bytes(ref.database);
    this.table = ref.table === undefined ? undefined : bytes(ref.table);
    const into = scope.intoSchema === undefined ? undefined : bytes(scope.intoSchema);
    this.dbs = new Set([db, ...(into ? [into] : [])]);
    if (this.table === undefined) this.database = db;
    const dbAlt = `(?:\`${esc(db)}\`|(?<![\\w\`.])${esc(db)})\\s*\\.\\s*`;
    this.qualified = this.table === undefined ? new RegExp(dbAlt, 'i') : new RegExp(`${dbAlt}(?:\`${esc(this.table)}\`|${esc(this.table)}\\b)`, 'i');
    this.tableWord = this.table === undefined ? undefined : new RegExp(`(?:\`${esc(this.table)}\`|(?<![\\w\`.])${esc(this.table)}\\b)`, 'i');
    if (into && into !== db) {
      this.rename = { quoted: new RegExp(`\`${esc(db)}\`(\\s*\\.)`, 'g'), bare: new RegExp(`(?<![\\w\`.])${esc(db)}(\\s*\\.)`, 'g'), to: into };
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.rest + chunk.toString('latin1');
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    const out: string[] = [];
    for (const line of lines) this.line(line, out);
    if (out.length) this.push(Buffer.from(`${out.join('\n')}\n`, 'latin1'));
    done();
  }

  override _flush(done: TransformCallback): void {
    const out: string[] = [];
    if (this.rest) this.line(this.rest, out);
    if (this.stmt.length) out.push(...this.stmt);
    if (out.length) this.push(Buffer.from(`${out.join('\n')}\n`, 'latin1'));
    done();
  }

  private line(line: string, out: string[]): void {
    if (this.binlogBlock) {
      this.binlogBlock.push(line);
      if (line.endsWith("'/*!*/;")) {
        if (this.keepRows()) out.push(...this.binlogBlock);
        else this.dropped++;
        this.binlogBlock = null;
        this.rowTables = [];
      }
      return;
    }
    // A `use` outside a statement: mariadb-binlog --rewrite-db prints it before the Query header.
    if (this.stmt.length === 0 && line.startsWith('use `')) {
      const use = USE_LINE.exec(line);
      if (use) {
        this.defaultInScope = this.dbs === undefined || this.dbs.has(use[1]!.replace(/``/g, '`'));
        if (this.defaultInScope) out.push(line);
        return;
      }
    }
    if (line.startsWith('# at ')) {
      this.inQuery = false;
      out.push(line);
      return;
    }
    if (line.startsWith('#')) {
      const map = /\tTable_map: `((?:[^`]|``)*)`\.`((?:[^`]|``)*)` mapped to number/.exec(line);
      if (map) this.rowTables.push({ db: map[1]!.replace(/``/g, '`'), table: map[2]!.replace(/``/g, '`') });
      if (/\tQuery\t/.test(line)) this.inQuery = true;
      out.push(line);
      return;
    }
    if (line === "BINLOG '") {
      this.binlogBlock = [line];
      return;
    }
    if (!this.inQuery) {
      out.push(line);
      return;
    }
    // Session settings are one line ending in the delimiter; a user's SET PASSWORD … is a
    // statement like any other (its delimiter follows on a line of its own).
    if (this.stmt.length === 0 && ((/^SET /.test(line) && line.endsWith('/*!*/;')) || line.startsWith('/*!'))) {
      out.push(line);
      return;
    }
    if (line === '/*!*/;') {
      this.decide(out);
      out.push(line);
      return;
    }
    this.stmt.push(line);
  }

  private decide(out: string[]): void {
    const text = this.stmt.join('\n');
    this.stmt = [];
    const dbStatement = this.database !== undefined ? DATABASE_STATEMENT.exec(text.replace(LEADING_COMMENTS, '')) : null;
    const keep = isAccountStatement(text)
      ? this.accounts
      : dbStatement
        ? this.dbs!.has(unquote(dbStatement[2]!))
        : this.dbs === undefined || /^\s*(BEGIN|COMMIT|ROLLBACK|XA\s|SAVEPOINT|RELEASE\s+SAVEPOINT)/i.test(text) || this.touches(text);
    if (keep && dbStatement && this.rename) {
      out.push(`${dbStatement[1]}\`${this.rename.to}\`${text.replace(LEADING_COMMENTS, '').slice(dbStatement[0].length)}`);
    } else if (keep) {
      out.push(this.rename ? text.replace(this.rename.quoted, `\`${this.rename.to}\`$1`).replace(this.rename.bare, `${this.rename.to}$1`) : text);
    } else {
      this.dropped++;
      // Keep the statement terminator balanced with something harmless.
      out.push('DO 0');
    }
  }

  /** A BINLOG block of row events: kept by the tables of its Table_maps. */
  private keepRows(): boolean {
    if (this.rowTables.length === 0) return true;
    if (!this.accounts && this.rowTables.every((t) => t.db.toLowerCase() === 'mysql' && PRIVILEGE_TABLES.has(t.table.toLowerCase()))) return false;
    return this.dbs === undefined || this.rowTables.some((t) => this.inScope(t.db, t.table));
  }

  private touches(text: string): boolean {
    if (this.qualified!.test(text)) return true;
    if (!this.defaultInScope) return false;
    return this.tableWord === undefined || this.tableWord.test(text);
  }

  private inScope(db: string, table: string): boolean {
    return this.dbs !== undefined && this.dbs.has(db) && (this.table === undefined || table === this.table);
  }
}
