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
  it('keeps a key a foreign key may rely on, and every key before it; defers the ones after it', () => {
    // The horizn sessions shape: the FK on site_id relies on sessions_site_started; user_hash goes.
    const sessions = [
      'CREATE TABLE `sessions` (',
      '  `id` bigint(20) NOT NULL,',
      '  `site_id` int(11) NOT NULL,',
      '  `user_hash` binary(32) NOT NULL,',
      '  PRIMARY KEY (`id`),',
      '  KEY `sessions_site_started` (`site_id`,`id`),',
      '  KEY `sessions_user_hash` (`user_hash`),',
      '  CONSTRAINT `sessions_site_fk` FOREIGN KEY (`site_id`) REFERENCES `sites` (`id`)',
      ') ENGINE=InnoDB;',
    ].join('\n');
    const r = splitSecondaryIndexes(sessions)!;
    expect(r.create).toBe(sessions.replace('  KEY `sessions_user_hash` (`user_hash`),\n', ''));
    expect(r.alter).toBe('ALTER TABLE `sessions` ADD KEY `sessions_user_hash` (`user_hash`);\n');
    // The FK's key last: nothing may move after it, so nothing is deferred.
    const fkKeyLast = sessions.replace('  KEY `sessions_site_started` (`site_id`,`id`),\n  KEY `sessions_user_hash` (`user_hash`),', '  KEY `sessions_user_hash` (`user_hash`),\n  KEY `sessions_site_started` (`site_id`,`id`),');
    expect(splitSecondaryIndexes(fkKeyLast)).toBeUndefined();
  });
  it('leaves tables without secondary keys alone', () => {
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
