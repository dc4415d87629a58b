// Parses the text that mariadb-binlog / mysqlbinlog print (`--base64-output=decode-rows`,
// run with TZ=UTC) into transactions: where each starts and ends, its GTID, its commit
// time, and what it did — statements (DDL, statement-format DML) and row events (table,
// insert/update/delete, rows). `binlog find` matches on these. Both flavours' formats:
//   MariaDB: `GTID 0-1-5 trans`, `Annotate_rows:` + `#Q> stmt`, `# Number of rows: N`;
//   MySQL:   `GTID last_committed=…` + `SET @@SESSION.GTID_NEXT= 'uuid:N'`, `Rows_query`
//            + `# stmt`, rows counted from `### INSERT/UPDATE/DELETE` (needs -v).
// Event positions come from `# at N` lines, which MariaDB prints twice before an
// Annotate_rows + Table_map pair: positions are queued and each header takes the next.

export type OpType = 'insert' | 'update' | 'delete' | 'ddl' | 'other';

export interface Operation {
  /** Position of the event that carries it. */
  position: number;
  type: OpType;
  /** `db.table` (unquoted) when known. */
  table: string | null;
  /** Rows for row events; null for statements. */
  rows: number | null;
  /** Statement text (for row events: the original statement when the binlog carries it). */
  statement: string | null;
  /** Statements only: the default database (`use`) it ran under, which qualifies its bare names. */
  defaultDatabase?: string | null;
}

export interface DecodedTransaction {
  file: string;
  /** Position of its first event (GTID): `pitr --before FILE:POS` excludes it and everything after. */
  position: number;
  /** Position after its last event: `pitr --to-position FILE:END` includes it. */
  end: number;
  /** Commit (last event) time, ISO UTC. */
  time: string;
  gtid: string | null;
  operations: Operation[];
}

const HEADER = /^#(\d\d)(\d\d)(\d\d)\s+(\d{1,2}):(\d\d):(\d\d) server id (\d+)\s+end_log_pos (\d+)\s+(?:CRC32 0x[0-9a-fA-F]+\s+)?(.*)$/;
const META = /^(Start: binlog|Gtid list|Binlog checkpoint|Rotate to|Previous-GTIDs|Stop|Format_desc|Heartbeat)/;
const DDL = /^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|GRANT|REVOKE)\b/i;

function typeOfStatement(stmt: string): OpType {
  const s = stmt.replace(/^\s*(\/\*.*?\*\/\s*)*/s, '');
  if (DDL.test(s)) return 'ddl';
  if (/^(INSERT|REPLACE|LOAD\s+DATA)\b/i.test(s)) return 'insert';
  if (/^UPDATE\b/i.test(s)) return 'update';
  if (/^DELETE\b/i.test(s)) return 'delete';
  return 'other';
}

const IDENT = '(?:`(?:[^`]|``)+`|[\\w$]+)';
const TABLE_REF = new RegExp(`(?:TABLE|INTO|UPDATE|FROM|VIEW|INDEX\\s+${IDENT}\\s+ON)\\s+(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?(${IDENT}(?:\\s*\\.\\s*${IDENT})?)`, 'i');

const unquote = (s: string): string => (s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s);

/** `db.table` a statement is about (best effort), qualified with the default database. */
export function statementTable(stmt: string, defaultDb: string | null): string | null {
  const m = TABLE_REF.exec(stmt);
  if (!m) return null;
  const parts = m[1]!.split(/\s*\.\s*/).map(unquote);
  if (parts.length === 2) return `${parts[0]}.${parts[1]}`;
  return defaultDb ? `${defaultDb}.${parts[0]}` : parts[0]!;
}

interface OpenEvent {
  kind: 'query' | 'rows' | 'annotate' | 'rows_query' | 'table_map' | 'other';
  position: number;
  rowType?: OpType;
  tableId?: string;
  lines: string[];
  rowsComment?: number;
  rowsHashes: number;
}

/** Incremental parser: feed lines, get transactions through `onTransaction`. */
export class BinlogTextParser {
  private pending: number[] = [];
  private tx: DecodedTransaction | null = null;
  private ev: OpenEvent | null = null;
  private defaultDb: string | null = null;
  private lastStatement: string | null = null;
  private tableMaps = new Map<string, string>();
  /** Statement number of each row operation: row events of one statement are merged. */
  private stmtOf = new WeakMap<Operation, number>();
  private stmtId = 0;
  private endStmt = false;

  constructor(
    private readonly file: string,
    private readonly onTransaction: (t: DecodedTransaction) => void,
  ) {}

  line(line: string): void {
    const c0 = line.charCodeAt(0);
    const ev0 = this.ev;
    // Fast path (most lines): base64 rows, -v row images, SET lines outside statements.
    if (c0 !== 35 /* # */ && (!ev0 || ev0.kind === 'rows' || ev0.kind === 'table_map')) return;
    if (c0 === 35) {
      const c1 = line.charCodeAt(1);
      if (c1 === 32 && line.startsWith('# at ')) {
        this.pending.push(Number(line.slice(5)));
        return;
      }
      if (c1 >= 48 && c1 <= 57) {
        const h = HEADER.exec(line);
        if (h) {
          this.header(h);
          return;
        }
      }
    }
    const ev = this.ev;
    if (!ev) return;
    if (ev.kind === 'annotate' && line.startsWith('#Q> ')) {
      ev.lines.push(line.slice(4));
      return;
    }
    if (ev.kind === 'rows_query' && line.startsWith('# ')) {
      ev.lines.push(line.slice(2));
      return;
    }
    if (ev.kind === 'rows') {
      const n = /^# Number of rows: (\d+)/.exec(line);
      if (n) ev.rowsComment = (ev.rowsComment ?? 0) + Number(n[1]);
      else if (/^### (INSERT INTO|UPDATE|DELETE FROM) /.test(line)) ev.rowsHashes++;
      return;
    }
    if (ev.kind === 'other' || ev.kind === 'query') {
      const gtidNext = /^SET @@SESSION\.GTID_NEXT= '([^']+)'/.exec(line);
      if (gtidNext && this.tx && gtidNext[1] !== 'ANONYMOUS' && gtidNext[1] !== 'AUTOMATIC') this.tx.gtid = gtidNext[1]!;
    }
    if (ev.kind === 'query') {
      const use = /^use `((?:[^`]|``)*)`\/\*!\*\/;$/.exec(line);
      if (use) {
        this.defaultDb = use[1]!.replace(/``/g, '`');
        return;
      }
      if (ev.lines.length === 0 && (/^SET /.test(line) || line.startsWith('/*!') || line.startsWith('#'))) return;
      if (line === '/*!*/;') {
        this.finishQuery(ev);
        ev.lines = [];
        return;
      }
      ev.lines.push(line);
    }
  }

  end(): void {
    this.closeEvent();
    this.closeTx();
  }

  private header(h: RegExpExecArray): void {
    this.closeEvent();
    const position = this.pending.shift() ?? Number(h[8]);
    this.pending = [];
    const time = `20${h[1]}-${h[2]}-${h[3]}T${h[4]!.padStart(2, '0')}:${h[5]}:${h[6]}Z`;
    const end = Number(h[8]);
    const desc = h[9]!;
    if (META.test(desc)) {
      this.closeTx();
      this.ev = null;
      return;
    }
    const gtid = /^GTID (\d+-\d+-\d+)/.exec(desc);
    if (gtid || /^(GTID|Anonymous_GTID)\b/.test(desc)) {
      this.closeTx();
      this.tx = { file: this.file, position, end, time, gtid: gtid ? gtid[1]! : null, operations: [] };
      this.ev = { kind: 'other', position, lines: [], rowsHashes: 0 };
      return;
    }
    if (!this.tx) this.tx = { file: this.file, position, end, time, gtid: null, operations: [] };
    this.tx.end = end;
    this.tx.time = time;
    const tm = /^Table_map: `((?:[^`]|``)*)`\.`((?:[^`]|``)*)` mapped to number (\d+)/.exec(desc);
    const rows = /^(Write|Update|Delete)_rows(?:_v1|_compressed(?:_v1)?)?: table id (\d+)/.exec(desc);
    if (tm) {
      this.tableMaps.set(tm[3]!, `${unquote(`\`${tm[1]}\``)}.${unquote(`\`${tm[2]}\``)}`);
      this.ev = { kind: 'table_map', position, lines: [], rowsHashes: 0 };
    } else if (rows) {
      if (/STMT_END_F/.test(desc)) this.endStmt = true;
      this.ev = { kind: 'rows', position, rowType: rows[1] === 'Write' ? 'insert' : rows[1] === 'Update' ? 'update' : 'delete', tableId: rows[2]!, lines: [], rowsHashes: 0 };
    } else if (/^Annotate_rows:/.test(desc)) {
      this.ev = { kind: 'annotate', position, lines: [], rowsHashes: 0 };
      this.lastStatement = null;
      this.stmtId++;
    } else if (/^Rows_query/.test(desc)) {
      this.ev = { kind: 'rows_query', position, lines: [], rowsHashes: 0 };
      this.lastStatement = null;
      this.stmtId++;
    } else if (/^Query\b/.test(desc)) {
      this.ev = { kind: 'query', position, lines: [], rowsHashes: 0 };
    } else {
      this.ev = { kind: 'other', position, lines: [], rowsHashes: 0 };
    }
  }

  private finishQuery(ev: OpenEvent): void {
    const stmt = ev.lines.join('\n').trim();
    if (!stmt || /^(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|XA (START|END|PREPARE|COMMIT))\b/i.test(stmt)) return;
    this.tx?.operations.push({ position: ev.position, type: typeOfStatement(stmt), table: statementTable(stmt, this.defaultDb), rows: null, statement: stmt, defaultDatabase: this.defaultDb });
  }

  private closeEvent(): void {
    const ev = this.ev;
    this.ev = null;
    if (!ev || !this.tx) return;
    if (ev.kind === 'annotate' || ev.kind === 'rows_query') this.lastStatement = ev.lines.join('\n').trim() || null;
    if (ev.kind === 'query' && ev.lines.length) this.finishQuery(ev);
    if (ev.kind === 'rows') {
      const table = this.tableMaps.get(ev.tableId!) ?? null;
      const rows = ev.rowsComment ?? ev.rowsHashes;
      // Several row events of one statement and table (large statements are split) add up.
      const prev = this.tx.operations.at(-1);
      if (prev && prev.rows !== null && prev.table === table && prev.type === ev.rowType && this.stmtOf.get(prev) === this.stmtId) prev.rows += rows;
      else {
        const op: Operation = { position: ev.position, type: ev.rowType!, table, rows, statement: this.lastStatement };
        this.stmtOf.set(op, this.stmtId);
        this.tx.operations.push(op);
      }
      if (this.endStmt) {
        // MySQL without Rows_query events: the next statement gets a new number anyway.
        this.stmtId++;
        this.endStmt = false;
      }
    }
  }

  private closeTx(): void {
    if (this.tx && (this.tx.operations.length > 0 || this.tx.gtid)) this.onTransaction(this.tx);
    this.tx = null;
  }
}
