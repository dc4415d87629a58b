// The splitter on recorded dumps of both flavours, fed in every chunking we can think of:
// part boundaries, coordinates, row counts and byte-exact content must not depend on it.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { DumpSplitter, type PartDescriptor, type PartSink, type PartWriter } from '../../src/dump/dump-splitter.js';

class CollectingSink implements PartSink {
  parts: Array<{ d: PartDescriptor; text: string }> = [];
  async open(d: PartDescriptor): Promise<PartWriter> {
    const entry = { d, text: '' };
    this.parts.push(entry);
    let bytes = 0;
    return {
      write: async (c) => {
        entry.text += c.toString('utf8');
        bytes += c.length;
      },
      end: async () => ({ rawBytes: bytes }),
      abort: () => undefined,
    };
  }
}

async function split(text: string, chunk: number) {
  const sink = new CollectingSink();
  const splitter = new DumpSplitter(sink);
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += chunk) await splitter.push(buf.subarray(i, i + chunk));
  return { result: await splitter.finish(), sink };
}

const mariadb = readFileSync(new URL('../fixtures/dumps/mariadb-10.11.sql', import.meta.url), 'utf8');
const mysql = readFileSync(new URL('../fixtures/dumps/mysql-8.4.sql', import.meta.url), 'utf8');

describe('DumpSplitter on a MariaDB 10.11 dump', () => {
  it.each([1, 2, 3, 7, 64, 1000, 1 << 20])('splits identically with %i-byte chunks', async (chunk) => {
    const { result, sink } = await split(mariadb, chunk);
    expect(result.completed).toBe(true);
    expect(result.coordinates).toEqual({ binlogFile: 'binlog.000001', binlogPosition: 2288, gtidSet: '0-1-11' });
    expect(sink.parts.map((p) => `${p.d.kind}:${p.d.database}:${p.d.table ?? ''}`)).toEqual([
      'database:d1:',
      'sequence:d1:s1',
      'table:d1:t1',
      'table:d1:we`ird',
      'events:d1:',
      'routines:d1:',
      'database:d2:',
      'table:d2:x',
      'events:d2:',
      'routines:d2:',
      'views:d1:',
    ]);
    const t1 = sink.parts[2]!.text;
    expect(t1.startsWith(result.preamble)).toBe(true);
    expect(t1).toContain('CREATE TABLE `t1`');
    expect(t1).toContain("(2,'b');");
    expect(t1).toContain('CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 trigger d1.tr1');
    expect(t1).not.toContain('we``ird');
    // Placeholders come first in the views part, then the final definition.
    const views = sink.parts[10]!.text;
    expect(views.indexOf('Temporary table structure for view `v1`')).toBeLessThan(views.indexOf('Final view structure for view `v1`'));
    expect(result.parts.find((p) => p.table === 't1')?.rows).toBe(2);
    expect(result.parts.find((p) => p.table === 'we`ird')?.rows).toBe(0);
    expect(result.parts.find((p) => p.kind === 'sequence')?.rows).toBeNull();
    // Nothing of the data is lost: every INSERT line lands in exactly one part.
    const all = sink.parts.map((p) => p.text).join('');
    expect(all.split('INSERT INTO').length).toBe(mariadb.split('INSERT INTO').length);
  });

  it('reports a truncated dump as not completed', async () => {
    const cut = mariadb.slice(0, mariadb.indexOf('-- Dumping routines for database'));
    const { result } = await split(cut, 4096);
    expect(result.completed).toBe(false);
  });

  it('keeps the session preamble without server-state changes', async () => {
    const { result } = await split(mariadb, 4096);
    expect(result.preamble).toContain('SET NAMES utf8mb4');
    expect(result.preamble).toContain("TIME_ZONE='+00:00'");
    expect(result.preamble).toContain('FOREIGN_KEY_CHECKS=0');
    expect(result.preamble).not.toContain('CHANGE MASTER');
  });
});

describe('DumpSplitter on a recorded MySQL 8.4 dump', () => {
  it.each([1, 5, 333, 1 << 16])('parses source coordinates and the commented multi-line GTID set (%i-byte chunks)', async (chunk) => {
    const { result, sink } = await split(mysql, chunk);
    expect(result.completed).toBe(true);
    expect(result.coordinates).toEqual({
      binlogFile: 'binlog.000003',
      binlogPosition: 1573,
      gtidSet: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77,5d4a2f10-71ca-11e1-9e33-c80aa9429562:1-5',
    });
    expect(result.serverVersion).toBe('8.4.3');
    expect(sink.parts.map((p) => `${p.d.kind}:${p.d.table ?? ''}`)).toEqual(['database:', 'table:sites', 'events:', 'routines:', 'views:']);
    // Single-line extended INSERTs cannot be counted cheaply: rows stay unknown, never wrong.
    expect(result.parts.find((p) => p.table === 'sites')?.rows).toBeNull();
    expect(result.preamble).toContain('/*!50503 SET NAMES utf8mb4 */;');
    expect(result.preamble).not.toContain('GTID_PURGED');
  });
});

describe('row counting', () => {
  const head = readFileSync(new URL('../fixtures/dumps/mariadb-10.11.sql', import.meta.url), 'utf8').split('--\n-- Current Database')[0]!;
  const table = (data: string): string =>
    `${head}--\n-- Current Database: \`d\`\n--\n\nUSE \`d\`;\n\n--\n-- Table structure for table \`t\`\n--\n\nCREATE TABLE \`t\` (a int);\n\n--\n-- Dumping data for table \`t\`\n--\n\n/*!40000 ALTER TABLE \`t\` DISABLE KEYS */;\n${data}/*!40000 ALTER TABLE \`t\` ENABLE KEYS */;\nDELIMITER ;;\n(not a row)\n;;\nDELIMITER ;\n\n-- Dump completed on 2026-11-27\n`;

  it.each([
    ['one row per line', 'INSERT INTO `t` VALUES\n(1),\n(2),\n(3);\nINSERT INTO `t` VALUES\n(4);\n', 4],
    ['history format: first row on the INSERT line', "INSERT INTO `t` (`a`, row_start) VALUES (1,'x'),\n(2,'y');\n", 2],
    ['single-row classic INSERTs', 'INSERT INTO `t` VALUES (1);\nINSERT INTO `t` VALUES (2);\n', 2],
    ['multi-row classic INSERT: unknown, never wrong', 'INSERT INTO `t` VALUES (1),(2),(3);\n', null],
  ])('%s', async (_name, data, rows) => {
    for (const chunk of [1, 4, 9, 4096]) {
      const { result } = await split(table(data), chunk);
      expect(result.parts.find((p) => p.table === 't')?.rows, `chunk ${chunk}`).toBe(rows);
    }
  });
});
