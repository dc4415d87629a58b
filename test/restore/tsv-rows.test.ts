// The SQL-rows → TSV converter behind restore's LOAD DATA path: every value form mysqldump
// writes, in both row layouts (MariaDB's one row per line, MySQL's one line per INSERT),
// gives the same TSV however the input is cut into chunks; anything it does not take fails
// loudly instead of loading a wrong row. (That MariaDB reads this TSV back to the same
// rows is tested end to end in big-table and round-trip tests.)
import { describe, it, expect } from 'vitest';
import { RowsToTsv, DumpValueError } from '../../src/restore/tsv-rows.js';

const PREFIX = Buffer.from('INSERT INTO `t` VALUES');

function convert(sqlAfterPrefix: string, hex: boolean[], chunk = Infinity): { tsv: string; rest: string; rows: number } {
  const input = Buffer.from(sqlAfterPrefix, 'utf8');
  const conv = new RowsToTsv(PREFIX, hex);
  const out: Buffer[] = [];
  let carry = Buffer.alloc(0);
  for (let i = 0; i < input.length || carry.length; ) {
    const size = Number.isFinite(chunk) ? chunk : input.length;
    const next = input.subarray(i, Math.min(input.length, i + size));
    i += next.length;
    const buf = Buffer.concat([carry, next]);
    const r = conv.push(buf);
    out.push(Buffer.from(r.tsv));
    if (r.ended) return { tsv: Buffer.concat(out).toString('utf8'), rest: buf.subarray(r.consumed).toString('utf8') + input.subarray(i).toString('utf8'), rows: conv.rows };
    carry = r.needMore ? Buffer.from(buf.subarray(r.consumed)) : Buffer.alloc(0);
    if (next.length === 0) break;
  }
  return { tsv: Buffer.concat(out).toString('utf8'), rest: carry.toString('utf8'), rows: conv.rows };
}

const MARIADB_ROWS = [
  " \n(1,'plain',NULL,-12.5e-3,0x00FF),",
  "(2,'it\\'s a \\\"quote\\\", back\\\\slash, \\0 nul, \\n nl, \\r cr, \\Z','NULL','',''),",
  "(3,'tab\there é 😀 ),( ; ''doubled''',NULL,0,0xABcd);",
  'INSERT INTO `t` VALUES',
  "(4,'second statement',NULL,1,NULL);",
  '/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n',
].join('\n');

const EXPECTED =
  [
    '1\tplain\t\\N\t-12.5e-3\t00FF',
    "2\tit\\'s a \\\"quote\\\", back\\\\slash, \\0 nul, \\n nl, \\r cr, \\Z\tNULL\t\t",
    "3\ttab\\there é 😀 ),( ; 'doubled'\t\\N\t0\tABcd",
    '4\tsecond statement\t\\N\t1\t\\N',
  ].join('\n') + '\n';

const HEX = [false, false, false, false, true];

describe('RowsToTsv', () => {
  it('turns every value form into LOAD DATA text and stops where the data ends', () => {
    const r = convert(MARIADB_ROWS, HEX);
    expect(r.tsv).toBe(EXPECTED);
    expect(r.rows).toBe(4);
    expect(r.rest).toBe('/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n');
  });

  it('gives the same result however the input is cut', () => {
    for (const chunk of [1, 2, 3, 5, 7, 13, 64]) {
      const r = convert(MARIADB_ROWS, HEX, chunk);
      expect(r.tsv, `chunks of ${chunk}`).toBe(EXPECTED);
      expect(r.rest, `chunks of ${chunk}`).toBe('/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n');
    }
  });

  it("reads MySQL's layout: all rows of a statement on one line", () => {
    const r = convert(" (1,'a',NULL,2,0x01),(2,'b',NULL,3,NULL);\nUNLOCK TABLES;\n", HEX, 4);
    expect(r.tsv).toBe('1\ta\t\\N\t2\t01\n2\tb\t\\N\t3\t\\N\n');
    expect(r.rest).toBe('UNLOCK TABLES;\n');
  });

  it('refuses what it cannot load faithfully', () => {
    const cases: Array<[string, boolean[]]> = [
      [" (1,_binary 'x');", [false, false]], // a prefixed literal
      [" (1,0x41);", [false, false]], // hex in a non-binary column
      [" (1,'raw');", [false, true]], // a quoted string in a binary column (dump without --hex-blob)
      [" (1,b'101');", [false, false]], // a bit literal
      [" (1,2,3);", [false, false]], // more values than columns
      [" (1);", [false, false]], // fewer
    ];
    for (const [sql, hex] of cases) {
      for (const chunk of [Infinity, 1]) expect(() => convert(sql, hex, chunk), sql).toThrow(DumpValueError);
    }
  });
});
