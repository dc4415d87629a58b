// Loads the SQL fixtures (our fidelity fixture, the sakila sample) into a real
// server with the stock `mariadb` client, because only the client understands
// DELIMITER and that is also how a responder restores a dump by hand.
// Credentials go in as dbops's tools get them: an unnamed option file on fd 3
// (src/mysql/defaults-file.ts).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ToolError } from '../../src/errors.js';
import { withConnection } from '../../src/mysql/client.js';
import { parseConnectionUrl } from '../../src/mysql/connection-url.js';
import { openToolCredentials } from '../../src/mysql/defaults-file.js';
import type { MysqlConn } from '../../src/mysql/connection-url.js';
import { findFirstTool } from '../../src/mysql/find-tool.js';
import { quoteIdent } from '../../src/verify/quote-ident.js';

/** The repository root (this file is test/helpers/fixtures.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const FIDELITY_SCHEMA = resolve(REPO_ROOT, 'test/fixtures/fidelity/schema.sql');

/**
 * sakila lives in shared/ beside the repository (CI clones the repo into
 * another folder with shared/ next to it); DBOPS_SAKILA_DIR overrides.
 */
export function sakilaDir(): string {
  return process.env.DBOPS_SAKILA_DIR ?? resolve(REPO_ROOT, '../shared/datasets/sakila');
}

export interface ClientRun {
  /** Database to select (`--database`). */
  database?: string;
  /** SQL text to feed on stdin. */
  input?: string;
  /** File to feed on stdin (streamed; use for dumps). */
  inputFile?: string;
  /** Extra client options, after the credentials and charset. */
  args?: string[];
  /** Pass --comments (default true); false shows what a plain `mariadb < dump` does. */
  comments?: boolean;
}

/**
 * Runs the `mariadb` client (or `mysql`) against serverUrl: utf8mb4, and
 * `--comments` so comments inside routine bodies are kept (the client strips
 * them otherwise, which changes SHOW CREATE PROCEDURE). Returns stdout.
 */
export async function runClient(serverUrl: string, run: ClientRun): Promise<string> {
  const tool = findFirstTool(['mariadb', 'mysql']);
  if (!tool) throw new ToolError('mariadb', 'client not found: install mariadb-client');
  const args = ['--default-character-set=utf8mb4', '--batch'];
  if (run.comments ?? true) args.push('--comments');
  args.push(...(run.args ?? []));
  if (run.database !== undefined) args.push(`--database=${run.database}`);
  const result = await withCredentials(parseConnectionUrl(serverUrl), tool.path, (arg, fd) =>
    execa(tool.path, [arg, ...args], {
      reject: false,
      stripFinalNewline: false,
      // execa passes a descriptor number to spawn as is (its types list none beyond 2).
      stdio: [run.inputFile !== undefined ? { file: run.inputFile } : 'pipe', 'pipe', 'pipe', fd as unknown as 'pipe'],
      ...(run.inputFile !== undefined ? {} : { input: run.input ?? '' }),
    }),
  );
  if (result.exitCode !== 0) {
    throw new ToolError(tool.name, `exited with ${result.exitCode}`, String(result.stderr).slice(-1500));
  }
  return String(result.stdout);
}

/** Starts a tool with `conn`'s option file as fd 3 (`arg` goes first on its command line). */
function withCredentials<T>(conn: MysqlConn, toolPath: string, start: (arg: string, fd: number) => T): T {
  const credentials = openToolCredentials(conn, toolPath);
  try {
    return start(credentials.arg, credentials.fd);
  } finally {
    credentials.close();
  }
}

/** Drops and creates `dbName` (utf8mb4) and loads the fidelity fixture into it. */
export async function loadFidelity(serverUrl: string, dbName: string): Promise<void> {
  await withConnection(parseConnectionUrl(serverUrl), async (db) => {
    await db.exec(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)}`);
    await db.exec(`CREATE DATABASE ${quoteIdent(dbName)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  });
  await runClient(serverUrl, { database: dbName, inputFile: FIDELITY_SCHEMA });
}

/**
 * Loads sakila (schema + data, as shipped) as `dbName`, replacing any
 * database of that name. The schema file itself drops, creates and USEs
 * `sakila` and qualifies tables as `sakila.x` in one view; for another name
 * those exact spots are rewritten, and the counts are checked so a changed
 * upstream file fails loudly instead of loading half into `sakila`.
 */
export async function loadSakila(serverUrl: string, dbName = 'sakila'): Promise<string> {
  const dir = sakilaDir();
  const schema = await readFile(resolve(dir, 'sakila-schema.sql'), 'utf8');
  const data = await readFile(resolve(dir, 'sakila-data.sql'), 'utf8');
  await runClient(serverUrl, { input: renameSakila(schema, dbName, 'schema') });
  await runClient(serverUrl, { input: renameSakila(data, dbName, 'data') });
  return dbName;
}

/** Rewrites the database name in a sakila file; exported for its own test. */
export function renameSakila(sql: string, dbName: string, file: 'schema' | 'data'): string {
  if (dbName === 'sakila') return sql;
  const name = quoteIdent(dbName);
  let statements = 0;
  let qualifiers = 0;
  const out = sql
    .replace(/^(DROP SCHEMA IF EXISTS|CREATE SCHEMA|USE) sakila;$/gm, (_m, verb: string) => {
      statements++;
      return `${verb} ${name};`;
    })
    .replace(/\bsakila\.(?=[a-z_])/g, () => {
      qualifiers++;
      return `${name}.`;
    });
  const expected = file === 'schema' ? statements === 3 && qualifiers > 0 : statements === 1 && qualifiers === 0;
  if (!expected) {
    throw new Error(
      `sakila ${file} file changed: found ${statements} DROP/CREATE/USE sakila statements and ${qualifiers} sakila. qualifiers; update renameSakila()`,
    );
  }
  return out;
}

/** The dump flags the product wraps (see BRIEF.md); tests add --databases or a database name. */
export const DUMP_FLAGS = ['--single-transaction', '--quick', '--routines', '--triggers', '--events', '--hex-blob'];

/** Runs mariadb-dump (or mysqldump) with `args` and writes its output to `outFile`. */
export async function runDump(serverUrl: string, args: string[], outFile: string): Promise<void> {
  const tool = findFirstTool(['mariadb-dump', 'mysqldump']);
  if (!tool) throw new ToolError('mariadb-dump', 'not found: install mariadb-client');
  const result = await withCredentials(parseConnectionUrl(serverUrl), tool.path, (arg, fd) =>
    execa(tool.path, [arg, ...args], { reject: false, stdio: ['ignore', { file: outFile }, 'pipe', fd as unknown as 'pipe'] }),
  );
  if (result.exitCode !== 0) {
    throw new ToolError(tool.name, `exited with ${result.exitCode}`, String(result.stderr).slice(-1500));
  }
}
