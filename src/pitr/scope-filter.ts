// Keeps only what touches one database (or one table) in mariadb-binlog's decoded output,
// between the decoder and the client. mariadb-binlog's own --database filters statements
// by their DEFAULT database (a `DROP TABLE shop.orders` issued under `use other` is
// dropped; a `CREATE TABLE shop.t` issued with no default database too), and its --table
// affects only row events; so the decision is made here:
//   - row events: by their Table_map (`db`.`table`), whole BINLOG statements at a time;
//   - statements: kept when their default database is in scope (and, for a table, they
//     name it) or when they name the database qualified (`shop`.x / shop.x);
//     BEGIN/COMMIT/ROLLBACK/XA/SAVEPOINT and session SETs always pass;
//   - `use` of another database is dropped (it may not exist on the target).
// With --into-schema, mariadb-binlog's --rewrite-db renames `use` and Table_maps; names
// qualified inside statement text are renamed here. This is text matching, not SQL
// parsing: a statement that only mentions the name in a string literal is kept too.
import { Transform, type TransformCallback } from 'node:stream';
import type { RestoreScope } from '../restore/select-parts.js';
import { parseTableRef } from '../restore/select-parts.js';

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
  private readonly dbs: Set<string>;
  private readonly table: string | undefined;
  private readonly qualified: RegExp;
  private readonly tableWord: RegExp | undefined;
  private readonly rename: { quoted: RegExp; bare: RegExp; to: string } | undefined;
  /** Statements and row blocks left out (for the report). */
  dropped = 0;

  constructor(scope: RestoreScope) {
    super();
    const ref = scope.table ? parseTableRef(scope.table) : { database: scope.database!, table: undefined };
    const db = bytes(ref.database);
    this.table = ref.table === undefined ? undefined : bytes(ref.table);
    const into = scope.intoSchema === undefined ? undefined : bytes(scope.intoSchema);
    this.dbs = new Set([db, ...(into ? [into] : [])]);
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
        if (this.rowTables.length === 0 || this.rowTables.some((t) => this.inScope(t.db, t.table))) out.push(...this.binlogBlock);
        else this.dropped++;
        this.binlogBlock = null;
        this.rowTables = [];
      }
      return;
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
    const use = /^use `((?:[^`]|``)*)`\/\*!\*\/;$/.exec(line);
    if (use) {
      this.defaultInScope = this.dbs.has(use[1]!.replace(/``/g, '`'));
      if (this.defaultInScope) out.push(line);
      return;
    }
    if (this.stmt.length === 0 && (/^SET /.test(line) || line.startsWith('/*!'))) {
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
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|XA\s|SAVEPOINT|RELEASE\s+SAVEPOINT)/i.test(text) || this.touches(text)) {
      out.push(this.rename ? text.replace(this.rename.quoted, `\`${this.rename.to}\`$1`).replace(this.rename.bare, `${this.rename.to}$1`) : text);
    } else {
      this.dropped++;
      // Keep the statement terminator balanced with something harmless.
      out.push('DO 0');
    }
  }

  private touches(text: string): boolean {
    if (this.qualified.test(text)) return true;
    if (!this.defaultInScope) return false;
    return this.tableWord === undefined || this.tableWord.test(text);
  }

  private inScope(db: string, table: string): boolean {
    return this.dbs.has(db) && (this.table === undefined || table === this.table);
  }
}
