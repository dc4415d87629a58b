// The LOAD DATA router on one table part, through a real FIFO read the way the mysql
// client reads it: whatever the chunking, the client gets the part's SQL with the rows
// replaced by one LOAD DATA statement, and the FIFO gets exactly those rows as TSV. A
// table that does not qualify passes through untouched.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadDataRouter, makeFifo, ClientGoneError } from '../../src/restore/load-data.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function part(columns: string): string {
  return [
    '/*!40101 SET NAMES utf8mb4 */;',
    '--',
    '-- Table structure for table `t``x`',
    '--',
    '',
    'DROP TABLE IF EXISTS `t``x`;',
    'CREATE TABLE `t``x` (',
    '  `id` int(11) NOT NULL AUTO_INCREMENT,',
    columns,
    "  `note` varchar(20) DEFAULT NULL COMMENT 'never STORED as such',",
    '  PRIMARY KEY (`id`)',
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;',
    '',
    '/*!40000 ALTER TABLE `t``x` DISABLE KEYS */;',
    'INSERT INTO `t``x` VALUES',
    "(0,0x0102,'zero'),",
    "(1,'','a\\'b');",
    'INSERT INTO `t``x` VALUES',
    '(2,NULL,NULL);',
    '/*!40000 ALTER TABLE `t``x` ENABLE KEYS */;',
    'DELIMITER ;;',
    '/*!50003 CREATE TRIGGER tr BEFORE INSERT ON `t``x` FOR EACH ROW SET NEW.note = 1 */;;',
    'DELIMITER ;',
    '',
  ].join('\n');
}

async function route(sql: string, chunk: number): Promise<{ sql: string; tsv: string; loaded: LoadDataRouter['loaded'] }> {
  const dir = await mkdtemp(join(tmpdir(), 'dbops-test-fifo-'));
  dirs.push(dir);
  const fifo = await makeFifo(dir, 'part');
  const written: string[] = [];
  let tsv = '';
  // The reader opens the FIFO only when the LOAD DATA statement arrives, as the client does.
  let reading: Promise<void> = Promise.resolve();
  const sink = {
    write: async (data: Buffer | string): Promise<void> => {
      const text = data.toString();
      written.push(text);
      if (text.startsWith('LOAD DATA LOCAL INFILE')) {
        // The file the statement names, as the client opens it.
        const named = /^LOAD DATA LOCAL INFILE '([^']+)'/.exec(text)![1]!;
        const fd = openSync(named, 'r');
        reading = (async () => {
          for await (const c of createReadStream('', { fd })) tsv += (c as Buffer).toString('utf8');
        })();
      }
    },
    hasExited: () => false,
  };
  const router = new LoadDataRouter(sink, fifo);
  const input = Buffer.from(sql, 'utf8');
  for (let i = 0; i < input.length; i += chunk) await router.write(input.subarray(i, i + chunk));
  await router.end();
  await reading;
  return { sql: written.join(''), tsv, loaded: router.loaded };
}

describe('LoadDataRouter', () => {
  it('sends the rows through the FIFO and everything else to the client, however chunked', async () => {
    const input = part('  `b` varbinary(4) DEFAULT NULL,');
    for (const chunk of [1, 7, 64, 100_000]) {
      const r = await route(input, chunk);
      expect(r.tsv, `chunks of ${chunk}`).toBe("0\t0102\tzero\n1\t\ta\\'b\n2\t\\N\t\\N\n");
      expect(r.loaded).toEqual([{ table: 't`x', rows: 3 }]);
      const load = /LOAD DATA LOCAL INFILE .*\n/.exec(r.sql)?.[0];
      expect(load).toMatch(new RegExp(`^LOAD DATA LOCAL INFILE '/proc/${process.pid}/fd/\\d+' `));
      // id goes through a variable (NO_AUTO_VALUE_ON_ZERO), the binary column through UNHEX.
      expect(load).toMatch(/INTO TABLE `t``x` CHARACTER SET utf8mb4 .* \(@c0, @c1, `note`\) SET `id` = @c0, `b` = UNHEX\(@c1\) \/\* dbops-load [0-9a-f]{16} \*\/;\n$/);
      expect(r.sql.replace(load!, '')).toBe(input.replace(/INSERT INTO `t``x` VALUES\n[^]*?\(2,NULL,NULL\);\n/, ''));
    }
  });

  it('leaves a table with a column it cannot load as it is', async () => {
    const input = part('  `b` varbinary(4) GENERATED ALWAYS AS (`id`) VIRTUAL,');
    for (const chunk of [5, 100_000]) {
      const r = await route(input, chunk);
      expect(r.sql).toBe(input);
      expect(r.loaded).toEqual([]);
    }
  });

  it('fails, rather than waiting for ever, when the client exits before opening the FIFO (its LOAD DATA refused)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbops-test-fifo-'));
    dirs.push(dir);
    // A process that never opens the FIFO stands for a client whose statement the server refused.
    const client = spawn('sleep', ['30'], { stdio: 'ignore' });
    let exited = false;
    let exit!: () => void;
    const gone = new Promise<void>((resolve) => (exit = resolve));
    const sink = { write: async (): Promise<void> => undefined, hasExited: () => exited, gone: () => gone, pid: client.pid! };
    const router = new LoadDataRouter(sink, await makeFifo(dir, 'part'));
    try {
      const input = Buffer.from(part('  `b` varbinary(4) DEFAULT NULL,'), 'utf8');
      // The rows' end waits for the client to open the FIFO; the client exits meanwhile, as
      // a ClientSession reports it: gone() settles, then hasExited() turns true.
      const ended = (async () => {
        await router.write(input);
        await router.end();
      })().then(() => 'ended', (err: unknown) => err);
      await delay(50);
      exit();
      await Promise.resolve();
      exited = true;
      // Nothing else keeps the event loop alive in the CLI: a wait on an event that already
      // happened would end the process with exit 0 and no word.
      const outcome = await Promise.race([ended, delay(3000).then(() => 'still waiting')]);
      expect(outcome).toBeInstanceOf(ClientGoneError);
    } finally {
      client.kill();
      router.destroy();
    }
  });
});
