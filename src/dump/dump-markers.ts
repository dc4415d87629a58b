// Recognises the comment lines mysqldump/mariadb-dump write between sections, and the
// binlog coordinates/GTID lines in the header and trailer. Both flavours write the same
// section titles; they differ in the coordinate syntax, handled here.

export type SectionMarker =
  | { type: 'database'; database: string }
  | { type: 'table'; table: string }
  | { type: 'sequence'; table: string }
  | { type: 'data'; table: string }
  | { type: 'view-placeholder'; view: string }
  | { type: 'view-final'; view: string }
  | { type: 'events'; database: string }
  | { type: 'routines'; database: string }
  | { type: 'completed' };

/** `name` with doubled backticks → name. */
function unquoteBacktick(q: string): string {
  return q.replace(/``/g, '`');
}
function unquoteSingle(q: string): string {
  return q.replace(/\\'/g, "'").replace(/''/g, "'").replace(/\\\\/g, '\\');
}

const BT = '`((?:[^`]|``)*)`';
const PATTERNS: Array<[RegExp, (m: RegExpMatchArray) => SectionMarker]> = [
  [new RegExp(`^-- Current Database: ${BT}$`), (m) => ({ type: 'database', database: unquoteBacktick(m[1]!) })],
  [new RegExp(`^-- Table structure for table ${BT}$`), (m) => ({ type: 'table', table: unquoteBacktick(m[1]!) })],
  [new RegExp(`^-- Sequence structure for ${BT}$`), (m) => ({ type: 'sequence', table: unquoteBacktick(m[1]!) })],
  [new RegExp(`^-- Dumping data for table ${BT}$`), (m) => ({ type: 'data', table: unquoteBacktick(m[1]!) })],
  [new RegExp(`^-- Temporary (?:table|view) structure for view ${BT}$`), (m) => ({ type: 'view-placeholder', view: unquoteBacktick(m[1]!) })],
  [new RegExp(`^-- Final view structure for view ${BT}$`), (m) => ({ type: 'view-final', view: unquoteBacktick(m[1]!) })],
  [/^-- Dumping events for database '((?:[^'\\]|\\.|'')*)'$/, (m) => ({ type: 'events', database: unquoteSingle(m[1]!) })],
  [/^-- Dumping routines for database '((?:[^'\\]|\\.|'')*)'$/, (m) => ({ type: 'routines', database: unquoteSingle(m[1]!) })],
  [/^-- Dump completed( on .*)?$/, () => ({ type: 'completed' })],
];

/** Match one comment line (without its newline) against the section titles. */
export function parseMarkerLine(line: string): SectionMarker | undefined {
  for (const [re, build] of PATTERNS) {
    const m = re.exec(line);
    if (m) return build(m);
  }
  return undefined;
}

export interface Coordinates {
  binlogFile?: string;
  binlogPosition?: number;
  /** MariaDB domain-server-seq list or MySQL uuid:interval set, whitespace removed. */
  gtidSet?: string;
}

/**
 * Pull binlog coordinates out of dump text (header or trailer). Handles MariaDB
 * `CHANGE MASTER TO MASTER_LOG_FILE=…`, MySQL ≥ 8.0.26 `CHANGE REPLICATION SOURCE TO
 * SOURCE_LOG_FILE=…`, MariaDB `SET GLOBAL gtid_slave_pos='…'` and MySQL
 * `SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*\/ '…'` (which may span lines), commented or not.
 */
export function parseCoordinates(text: string, into: Coordinates = {}): Coordinates {
  const pos = /CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([^']+)', (?:MASTER|SOURCE)_LOG_POS=(\d+)/.exec(text);
  if (pos) {
    into.binlogFile = pos[1]!;
    into.binlogPosition = Number(pos[2]);
  }
  const maria = /SET GLOBAL gtid_slave_pos='([^']*)'/.exec(text);
  if (maria) into.gtidSet = maria[1]!.replace(/\s+/g, '');
  const mysql = /SET @@GLOBAL\.GTID_PURGED=(?:\/\*!80000 '\+'\*\/ )?'([^']*)'/.exec(text);
  if (mysql) into.gtidSet = mysql[1]!.replace(/\s+/g, '').replace(/--\s*/g, '');
  return into;
}

/**
 * The session preamble every part starts with: the dump header's `SET` statements
 * (character set, time zone, unique/foreign-key checks, sql_mode, notes) so a part
 * restores alone, by hand too. GTID_PURGED and SQL_LOG_BIN lines are left out: they
 * would change server state; restore sets those itself when asked.
 */
export function extractPreamble(header: string): string {
  const keep: string[] = [];
  for (const line of header.split('\n')) {
    if (/^\/\*M?!\d*\s*SET @OLD_|^\/\*!\d+ SET (NAMES|TIME_ZONE)|^\/\*M!999999\\- enable the sandbox mode \*\//.test(line)) keep.push(line);
  }
  return keep.length ? `${keep.join('\n')}\n` : '';
}
