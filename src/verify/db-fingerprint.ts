// A database fingerprint: everything a restore must reproduce, read back from
// the server in a form two databases can be compared by (`diffFingerprints`).
// Used by the demo, the restore tests and restore-test reports to prove that a
// restored database is the one that was backed up.
//
// Read-only: no statement here changes data or session state (sequences are
// read with SELECT, never NEXTVAL). The caller's connection must use utf8mb4
// (mysql2's default) so unicode names and definitions come back intact.
//
// Normalisation, decided per object kind:
// - The database's own name is removed wherever the server writes it as a
//   qualifier (`db`.`t` in view definitions), so a copy restored under another
//   name fingerprints the same. References to other databases stay.
// - AUTO_INCREMENT=N is taken out of SHOW CREATE TABLE into its own field:
//   mariadb-dump preserves it, so a full restore must match it and the diff
//   reports it, but it is not transactional (it can run ahead of a consistent
//   snapshot), so a caller comparing against a snapshot can ignore that field.
// - Trigger `Created` timestamps are dropped; DEFINER, ALGORITHM, SQL SECURITY,
//   sql_mode and client character sets are kept: a restore that loses them
//   changes behaviour.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { OperationError } from '../errors.js';
import { tableContentChecksum } from './content-checksum.js';
import { quoteIdent, quoteQualified } from './quote-ident.js';

export { diffFingerprints, type Difference, type DiffOptions } from './fingerprint-diff.js';
export { tableContentChecksum, type ContentChecksum } from './content-checksum.js';
export { quoteIdent, quoteQualified } from './quote-ident.js';

export interface TableFingerprint {
  engine: string;
  /** SELECT COUNT(*). */
  rowCount: number;
  /** CHECKSUM TABLE … EXTENDED; null when not requested or the engine gives none. */
  checksum: string | null;
  /** tableContentChecksum(), only when requested (it costs a second full scan). */
  contentChecksum?: string;
  /** The AUTO_INCREMENT=N table option, or null when the table has none. */
  autoIncrement: number | null;
  /** SHOW CREATE TABLE without the AUTO_INCREMENT=N option. */
  createTable: string;
}

/** A view, routine, trigger or event: its definition plus the context it runs under. */
export interface CodeFingerprint {
  definition: string;
  sqlMode?: string;
  timeZone?: string;
  characterSetClient?: string;
  collationConnection?: string;
  databaseCollation?: string;
  /** Triggers only: position among triggers on the same table and event. */
  actionOrder?: number;
}

export interface SequenceFingerprint {
  definition: string;
  /** The sequence's single row (next_not_cached_value, …), every value as a string. */
  state: Record<string, string>;
}

export interface DbFingerprint {
  database: string;
  characterSet: string;
  collation: string;
  tables: Record<string, TableFingerprint>;
  views: Record<string, CodeFingerprint>;
  procedures: Record<string, CodeFingerprint>;
  functions: Record<string, CodeFingerprint>;
  triggers: Record<string, CodeFingerprint>;
  events: Record<string, CodeFingerprint>;
  sequences: Record<string, SequenceFingerprint>;
}

export interface FingerprintOptions {
  /** Run CHECKSUM TABLE … EXTENDED (default true). */
  serverChecksum?: boolean;
  /** Also run tableContentChecksum (default false: a second full scan of every table). */
  contentChecksum?: boolean;
}

/** Fingerprint every object of one database. */
export async function fingerprintDatabase(
  conn: Connection,
  db: string,
  options: FingerprintOptions = {},
): Promise<DbFingerprint> {
  const [schemata] = await conn.query<RowDataPacket[]>(
    `SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS coll
       FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`,
    [db],
  );
  const schema = schemata[0];
  if (!schema) throw new OperationError(`database ${quoteIdent(db)} does not exist: check the name`);

  const [tableRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`,
    [db],
  );
  const byType = (pred: (type: string) => boolean): string[] =>
    sortedNames(tableRows.filter((r) => pred(String(r.type))).map((r) => String(r.name)));
  // 'SYSTEM VERSIONED' is MariaDB's type for system-versioned base tables.
  const tableNames = byType((t) => t === 'BASE TABLE' || t === 'SYSTEM VERSIONED');
  const viewNames = byType((t) => t === 'VIEW');
  const sequenceNames = byType((t) => t === 'SEQUENCE');

  const [routineRows] = await conn.query<RowDataPacket[]>(
    `SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`,
    [db],
  );
  const [triggerRows] = await conn.query<RowDataPacket[]>(
    `SELECT TRIGGER_NAME AS name, ACTION_ORDER AS actionOrder FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
    [db],
  );
  const [eventRows] = await conn.query<RowDataPacket[]>(
    `SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
    [db],
  );

  const tables: [string, TableFingerprint][] = [];
  for (const name of tableNames) tables.push([name, await fingerprintTable(conn, db, name, options)]);

  const views: [string, CodeFingerprint][] = [];
  for (const name of viewNames) views.push([name, await fingerprintView(conn, db, name)]);

  const sequences: [string, SequenceFingerprint][] = [];
  for (const name of sequenceNames) sequences.push([name, await fingerprintSequence(conn, db, name)]);

  const routinesOf = async (type: 'PROCEDURE' | 'FUNCTION'): Promise<[string, CodeFingerprint][]> => {
    const names = sortedNames(routineRows.filter((r) => r.type === type).map((r) => String(r.name)));
    const out: [string, CodeFingerprint][] = [];
    for (const name of names) {
      const row = await showCreate(conn, `SHOW CREATE ${type} ${quoteQualified(db, name)}`, `${type.toLowerCase()} ${quoteIdent(name)}`);
      out.push([name, codeFingerprint(db, row, type === 'PROCEDURE' ? 'Create Procedure' : 'Create Function')]);
    }
    return out;
  };
  const procedures = await routinesOf('PROCEDURE');
  const functions = await routinesOf('FUNCTION');

  const triggers: [string, CodeFingerprint][] = [];
  const orderOf = new Map(triggerRows.map((r) => [String(r.name), Number(r.actionOrder)]));
  for (const name of sortedNames([...orderOf.keys()])) {
    const row = await showCreate(conn, `SHOW CREATE TRIGGER ${quoteQualified(db, name)}`, `trigger ${quoteIdent(name)}`);
    triggers.push([name, { ...codeFingerprint(db, row, 'SQL Original Statement'), actionOrder: orderOf.get(name)! }]);
  }

  const events: [string, CodeFingerprint][] = [];
  for (const name of sortedNames(eventRows.map((r) => String(r.name)))) {
    const row = await showCreate(conn, `SHOW CREATE EVENT ${quoteQualified(db, name)}`, `event ${quoteIdent(name)}`);
    events.push([name, codeFingerprint(db, row, 'Create Event')]);
  }

  // Object.fromEntries defines own properties, so even a table named __proto__ is safe.
  return {
    database: db,
    characterSet: String(schema.cs),
    collation: String(schema.coll),
    tables: Object.fromEntries(tables),
    views: Object.fromEntries(views),
    procedures: Object.fromEntries(procedures),
    functions: Object.fromEntries(functions),
    triggers: Object.fromEntries(triggers),
    events: Object.fromEntries(events),
    sequences: Object.fromEntries(sequences),
  };
}

/** Fingerprint one base table: engine, row count, checksum(s) and definition. */
export async function fingerprintTable(
  conn: Connection,
  db: string,
  table: string,
  options: FingerprintOptions = {},
): Promise<TableFingerprint> {
  const qualified = quoteQualified(db, table);
  const label = `table ${quoteIdent(table)}`;
  const created = await showCreate(conn, `SHOW CREATE TABLE ${qualified}`, label);
  if (created['Create Table'] === undefined) throw new OperationError(`${label} in ${quoteIdent(db)} is not a base table`);
  const { createTable, autoIncrement } = splitAutoIncrement(stripOwnDatabase(db, String(created['Create Table'])));

  const [info] = await conn.query<RowDataPacket[]>(
    `SELECT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
    [db, table],
  );
  const [counted] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${qualified}`);

  let checksum: string | null = null;
  if (options.serverChecksum ?? true) {
    const [sums] = await conn.query<RowDataPacket[]>(`CHECKSUM TABLE ${qualified} EXTENDED`);
    const value = sums[0]?.Checksum;
    checksum = value === null || value === undefined ? null : String(value);
  }
  const fingerprint: TableFingerprint = {
    engine: String(info[0]?.engine ?? ''),
    rowCount: Number(counted[0]?.n),
    checksum,
    autoIncrement,
    createTable,
  };
  if (options.contentChecksum) fingerprint.contentChecksum = (await tableContentChecksum(conn, db, table)).checksum;
  return fingerprint;
}

async function fingerprintView(conn: Connection, db: string, view: string): Promise<CodeFingerprint> {
  const row = await showCreate(conn, `SHOW CREATE VIEW ${quoteQualified(db, view)}`, `view ${quoteIdent(view)}`);
  return codeFingerprint(db, row, 'Create View');
}

// MariaDB's sequence row; every column is cast to text because the defaults
// (e.g. maximum_value 9223372036854775806) do not fit a JavaScript number.
const SEQUENCE_COLUMNS = [
  'next_not_cached_value',
  'minimum_value',
  'maximum_value',
  'start_value',
  'increment',
  'cache_size',
  'cycle_option',
  'cycle_count',
];

async function fingerprintSequence(conn: Connection, db: string, sequence: string): Promise<SequenceFingerprint> {
  const label = `sequence ${quoteIdent(sequence)}`;
  const row = await showCreate(conn, `SHOW CREATE SEQUENCE ${quoteQualified(db, sequence)}`, label);
  const select = SEQUENCE_COLUMNS.map((c) => `CAST(${quoteIdent(c)} AS CHAR) AS ${quoteIdent(c)}`).join(', ');
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT ${select} FROM ${quoteQualified(db, sequence)}`);
  const state = rows[0];
  if (!state) throw new OperationError(`${label} in ${quoteIdent(db)} has no state row: the sequence table is damaged`);
  return {
    definition: stripOwnDatabase(db, String(row['Create Table'])),
    state: Object.fromEntries(SEQUENCE_COLUMNS.map((c) => [c, String(state[c])])),
  };
}

async function showCreate(conn: Connection, sql: string, label: string): Promise<RowDataPacket> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>(sql);
  } catch (err) {
    throw new OperationError(`could not read the definition of ${label}: ${(err as Error).message}`, { cause: err });
  }
  const row = rows[0];
  if (!row) throw new OperationError(`could not read the definition of ${label}: the server returned nothing`);
  return row;
}

function codeFingerprint(db: string, row: RowDataPacket, definitionColumn: string): CodeFingerprint {
  const text = (column: string): string | undefined =>
    row[column] === undefined || row[column] === null ? undefined : String(row[column]);
  const definition = text(definitionColumn);
  if (definition === undefined) {
    // SHOW CREATE on a routine defined by another user without privileges returns NULL.
    throw new OperationError(`no ${definitionColumn} returned: the connecting user needs SELECT on mysql.proc or to be the definer`);
  }
  const fp: CodeFingerprint = { definition: stripOwnDatabase(db, definition) };
  const sqlMode = text('sql_mode');
  const timeZone = text('time_zone');
  const characterSetClient = text('character_set_client');
  const collationConnection = text('collation_connection');
  const databaseCollation = text('Database Collation');
  if (sqlMode !== undefined) fp.sqlMode = sqlMode;
  if (timeZone !== undefined) fp.timeZone = timeZone;
  if (characterSetClient !== undefined) fp.characterSetClient = characterSetClient;
  if (collationConnection !== undefined) fp.collationConnection = collationConnection;
  if (databaseCollation !== undefined) fp.databaseCollation = databaseCollation;
  return fp;
}

/** Remove `db`. qualifiers that name this database, so a renamed restore compares equal. */
function stripOwnDatabase(db: string, text: string): string {
  return text.replaceAll(`${quoteIdent(db)}.`, '');
}

/** Take the AUTO_INCREMENT=N table option out of SHOW CREATE TABLE (only after the column list). */
export function splitAutoIncrement(create: string): { createTable: string; autoIncrement: number | null } {
  const optionsStart = create.lastIndexOf('\n)');
  if (optionsStart < 0) return { createTable: create, autoIncrement: null };
  const head = create.slice(0, optionsStart);
  const tail = create.slice(optionsStart);
  const match = / AUTO_INCREMENT=(\d+)/.exec(tail);
  if (!match) return { createTable: create, autoIncrement: null };
  return { createTable: head + tail.replace(match[0], ''), autoIncrement: Number(match[1]) };
}

function sortedNames(names: string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
