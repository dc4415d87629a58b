// Deferred secondary indexes: the CREATE TABLE rewrite must keep everything but plain,
// FULLTEXT and SPATIAL keys, and give them back in one ALTER, unchanged and in order.
import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { splitSecondaryIndexes, DeferSecondaryIndexes } from '../../src/restore/defer-indexes.js';

const create = [
  'CREATE TABLE `pageviews` (',
  '  `id` bigint(20) NOT NULL,',
  '  `site_id` int(11) NOT NULL,',
  '  `path` varchar(255) NOT NULL,',
  '  PRIMARY KEY (`id`),',
  '  UNIQUE KEY `uniq` (`site_id`,`id`),',
  '  KEY `idx_site_ts` (`site_id`,`id`),',
  '  FULLTEXT KEY `ft` (`path`)',
  ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;',
].join('\n');

describe('splitSecondaryIndexes', () => {
  it('moves plain and FULLTEXT keys into one ALTER, keeps primary and unique keys', () => {
    const r = splitSecondaryIndexes(create)!;
    expect(r.create).toBe(['CREATE TABLE `pageviews` (', '  `id` bigint(20) NOT NULL,', '  `site_id` int(11) NOT NULL,', '  `path` varchar(255) NOT NULL,', '  PRIMARY KEY (`id`),', '  UNIQUE KEY `uniq` (`site_id`,`id`)', ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;'].join('\n'));
    expect(r.alter).toBe('ALTER TABLE `pageviews` ADD KEY `idx_site_ts` (`site_id`,`id`), ADD FULLTEXT KEY `ft` (`path`);\n');
  });
  it('leaves tables with foreign keys and tables without secondary keys alone', () => {
    expect(splitSecondaryIndexes(create.replace('  FULLTEXT KEY `ft` (`path`)', '  KEY `ft` (`path`),\n  CONSTRAINT `fk` FOREIGN KEY (`site_id`) REFERENCES `sites` (`id`)'))).toBeUndefined();
    expect(splitSecondaryIndexes('CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB;')).toBeUndefined();
  });
  it('streams: rewrites the head, passes data through, appends the ALTER at the end, whatever the chunking', async () => {
    const part = `/*!40101 SET NAMES utf8mb4 */;\nDROP TABLE IF EXISTS \`pageviews\`;\n${create}\nINSERT INTO \`pageviews\` VALUES\n(1,1,'a'),\n(2,1,'b');\n`;
    for (const size of [1, 7, 4096]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < part.length; i += size) chunks.push(Buffer.from(part.slice(i, i + size)));
      const t = new DeferSecondaryIndexes();
      const out = (await buffer(Readable.from(chunks).pipe(t))).toString();
      expect(out.endsWith("(2,1,'b');\nALTER TABLE `pageviews` ADD KEY `idx_site_ts` (`site_id`,`id`), ADD FULLTEXT KEY `ft` (`path`);\n"), `chunk ${size}`).toBe(true);
      expect(out).not.toContain('KEY `idx_site_ts` (`site_id`,`id`),\n');
      expect(t.result).toEqual({ table: 'pageviews', deferred: 2 });
    }
  });
});
