// Splits a migration file into single statements: MySQL DDL is not transactional, so the runner
// executes (and records a failure against) one statement at a time.
// Handles '…', "…" and `…` quoting (doubled quotes and backslash escapes), -- / # / /* */ comments.
// Executable comments (/*! … */, /*+ … */) are kept. DELIMITER is a client command, not SQL: refused.
import { UsageError } from '../errors.js';

export interface SqlStatement {
  /** Statement text without its terminating semicolon or comments around it. */
  sql: string;
  /** 1-based line where the statement starts, for error messages. */
  line: number;
}

export function splitSqlStatements(text: string, source = 'sql'): SqlStatement[] {
  const out: SqlStatement[] = [];
  let buf = '';
  let line = 1;
  let startLine = 0; // 0 = no statement content yet
  let i = 0;
  const n = text.length;

  const push = (): void => {
    const sql = buf.trim();
    if (sql) out.push({ sql, line: startLine });
    buf = '';
    startLine = 0;
  };
  const mark = (): void => {
    if (startLine === 0) startLine = line;
  };

  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    // Line comments: "-- " needs whitespace (or end) after the dashes in MySQL; "#" always.
    if ((c === '-' && next === '-' && (i + 2 >= n || /\s/.test(text[i + 2]!))) || c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new UsageError(`${source}:${line}: unterminated /* comment; close it with */`);
      const body = text.slice(i, end + 2);
      const lines = body.split('\n').length - 1;
      if (text[i + 2] === '!' || text[i + 2] === '+') {
        mark();
        buf += body;
      } else {
        buf += ' ';
      }
      line += lines;
      i = end + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      mark();
      const startedAt = line;
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new UsageError(`${source}:${startedAt}: unterminated ${c} quote; close it`);
        const d = text[j]!;
        if (d === '\n') line++;
        if (d === '\\' && c !== '`') {
          if (text[j + 1] === '\n') line++;
          j += 2;
          continue;
        }
        if (d === c) {
          if (text[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      buf += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ';') {
      push();
      i++;
      continue;
    }
    if (c === '\n') {
      line++;
    } else if (!/\s/.test(c)) {
      if (startLine === 0 && /^delimiter\s/i.test(text.slice(i, i + 10))) {
        throw new UsageError(
          `${source}:${line}: DELIMITER is a mysql client command and is not supported; write one statement per ';' (stored routines are not supported in migrations)`,
        );
      }
      mark();
    }
    buf += c;
    i++;
  }
  push();
  return out;
}
