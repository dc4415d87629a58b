// The splitter must cut a table part into head / whole INSERT statements / tail at the
// same places whatever the chunking, and give back every byte.
import { describe, it, expect } from 'vitest';
import { InsertSplitter, sessionSettings, type Piece } from '../../src/restore/insert-splitter.js';

const HEAD = [
  "/*!40101 SET NAMES utf8mb4 */;",
  "/*!40103 SET TIME_ZONE='+00:00' */;",
  "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
  '--',
  '-- Table structure for table `t`',
  'DROP TABLE IF EXISTS `t`;',
  'CREATE TABLE `t` (',
  '  `id` int NOT NULL,',
  '  `s` text,',
  '  PRIMARY KEY (`id`)',
  ');',
  '/*!40000 ALTER TABLE `t` DISABLE KEYS */;',
  '',
].join('\n');
// Literals hold ";", escaped newlines and the words INSERT INTO: none of them is a boundary.
const STATEMENTS = [
  "INSERT INTO `t` VALUES (1,'a;b'),(2,'x\\nINSERT INTO `t` VALUES (9);');\n",
  "INSERT INTO `t` VALUES (3,'c'),\n(4,'d;\\n');\n",
  "INSERT INTO `t` VALUES (5,NULL);\n",
];
const TAIL = ['/*!40000 ALTER TABLE `t` ENABLE KEYS */;', 'DELIMITER ;;', '/*!50003 CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW SET NEW.s = 1 */;;', 'DELIMITER ;', ''].join('\n');
const PART = Buffer.from(HEAD + STATEMENTS.join('') + TAIL);

function run(chunkSize: number): Piece[] {
  const s = new InsertSplitter();
  const out: Piece[] = [];
  for (let i = 0; i < PART.length; i += chunkSize) out.push(...s.push(PART.subarray(i, i + chunkSize)));
  out.push(...s.end());
  return out;
}

function joined(pieces: Piece[], section: string): string {
  return Buffer.concat(pieces.filter((p) => p.section === section).map((p) => p.data)).toString();
}

describe('InsertSplitter', () => {
  for (const size of [1, 2, 3, 7, 13, 64, 100_000]) {
    it(`cuts at the same places with ${size}-byte chunks`, () => {
      const pieces = run(size);
      expect(Buffer.concat(pieces.map((p) => p.data)).equals(PART)).toBe(true);
      const order = pieces.map((p) => p.section).filter((s, i, a) => i === 0 || a[i - 1] !== s);
      expect(order).toEqual(['head', 'insert', 'tail']);
      expect(pieces.filter((p) => p.section === 'insert').map((p) => p.data.toString())).toEqual(STATEMENTS);
      expect(joined(pieces, 'head')).toBe(HEAD);
      expect(joined(pieces, 'tail')).toBe(TAIL);
    });
  }

  it('a part without rows is all head', () => {
    const s = new InsertSplitter();
    const pieces = [...s.push(Buffer.from(HEAD + TAIL)), ...s.end()];
    expect(pieces.every((p) => p.section === 'head')).toBe(true);
    expect(Buffer.concat(pieces.map((p) => p.data)).toString()).toBe(HEAD + TAIL);
  });

  it('an INSERT after other tail statements stays in the tail, in order', () => {
    const text = HEAD + STATEMENTS[0] + 'SELECT 1;\n' + STATEMENTS[1];
    const s = new InsertSplitter();
    const pieces = [...s.push(Buffer.from(text)), ...s.end()];
    expect(pieces.filter((p) => p.section === 'insert')).toHaveLength(1);
    expect(joined(pieces, 'tail')).toBe('SELECT 1;\n' + STATEMENTS[1]);
  });

  it('gives the loading connections the session settings of the head', () => {
    expect(sessionSettings(Buffer.from(HEAD))).toBe(HEAD.split('\n').slice(0, 3).join('\n') + '\n');
  });
});
