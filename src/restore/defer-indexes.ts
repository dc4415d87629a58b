// Loads a table faster by creating its secondary indexes after the data instead of
// maintaining them row by row: the part's CREATE TABLE is rewritten without its plain,
// FULLTEXT and SPATIAL keys, and one ALTER TABLE adding them back (same order, same
// definitions) is appended after the data, where InnoDB builds each index by sorting.
// A key a foreign key may rely on (its first column is the constraint's first column)
// stays in the CREATE: without it InnoDB would create an index of its own for the
// constraint and the restored schema would differ. Only keys after the last one that
// stays are deferred, so SHOW CREATE TABLE lists them in the same order afterwards.
// (sessions is the bench's biggest table: its random user_hash key, maintained row by row,
// had kept the whole table out of this until measured.)
import { Transform, type TransformCallback } from 'node:stream';

const HEAD_LIMIT = 1 << 20;
const DEFERRABLE = /^ {2}(?:(?:FULLTEXT|SPATIAL) )?KEY `/;

export interface DeferResult {
  table?: string;
  deferred: number;
}

/** Rewrite one CREATE TABLE statement; undefined when nothing should change. */
export function splitSecondaryIndexes(create: string): { create: string; alter: string } | undefined {
  const lines = create.split('\n');
  const start = lines.findIndex((l) => /^CREATE TABLE `(?:[^`]|``)+` \($/.test(l));
  const end = lines.findIndex((l, i) => i > start && l.startsWith(')'));
  if (start < 0 || end < 0) return undefined;
  const body = lines.slice(start + 1, end);
  const firstColumn = (l: string): string | undefined => /\(`((?:[^`]|``)+)`/.exec(l)?.[1];
  const fkFirstColumns = new Set(body.filter((l) => /^\s*CONSTRAINT .* FOREIGN KEY \(/.test(l)).map((l) => /FOREIGN KEY \(`((?:[^`]|``)+)`/.exec(l)?.[1]));
  const staysForFk = (l: string): boolean => DEFERRABLE.test(l) && fkFirstColumns.has(firstColumn(l));
  const lastStaying = body.map(staysForFk).lastIndexOf(true);
  const keep: string[] = [];
  const deferred: string[] = [];
  body.forEach((line, i) => (DEFERRABLE.test(line) && i > lastStaying ? deferred : keep).push(line.replace(/,$/, '')));
  if (deferred.length === 0 || keep.length === 0) return undefined;
  const name = /^CREATE TABLE (`(?:[^`]|``)+`)/.exec(lines[start]!)![1]!;
  const rebuilt = [...lines.slice(0, start + 1), ...keep.map((l, i) => (i < keep.length - 1 ? `${l},` : l)), ...lines.slice(end)].join('\n');
  const alter = `ALTER TABLE ${name} ${deferred.map((d) => `ADD ${d.trim()}`).join(', ')};\n`;
  return { create: rebuilt, alter };
}

export class DeferSecondaryIndexes extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private passing = false;
  private alter: string | undefined;
  result: DeferResult = { deferred: 0 };

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.passing) return done(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    const text = Buffer.concat(this.head).toString('latin1');
    const at = text.search(/^CREATE TABLE `/m);
    const close = at >= 0 ? text.indexOf('\n)', at) : -1;
    const stop = close >= 0 ? text.indexOf(';\n', close) : -1;
    if (stop < 0 && this.headBytes < HEAD_LIMIT) return done();
    this.passing = true;
    this.head = [];
    if (stop < 0) return done(null, Buffer.from(text, 'latin1'));
    const statement = text.slice(at, stop + 2);
    const split = splitSecondaryIndexes(statement);
    if (!split) return done(null, Buffer.from(text, 'latin1'));
    this.alter = split.alter;
    this.result = { table: /^CREATE TABLE `((?:[^`]|``)+)`/.exec(statement)![1]!, deferred: (split.alter.match(/ADD /g) ?? []).length };
    done(null, Buffer.from(text.slice(0, at) + split.create + text.slice(stop + 2), 'latin1'));
  }

  override _flush(done: TransformCallback): void {
    if (!this.passing && this.head.length) {
      this.push(Buffer.concat(this.head));
    }
    done(null, this.alter ? Buffer.from(this.alter, 'latin1') : undefined);
  }
}
