// A throwaway MariaDB (binlog on) for scripts/container-image-test.sh: the image is
// proven against a real server on the host's loopback, reached with `--network host`.
// Seeds one small database, writes the root URL to a 0600 file (never argv or stdout),
// then serves until SIGTERM/SIGINT and removes everything.
//   tsx test/docker/serve-mariadb.ts <url-file>
import { writeFile } from 'node:fs/promises';
import { startSandboxServer } from '../../src/sandbox/process-server.js';
import { withConnection } from '../../src/mysql/client.js';

const urlFile = process.argv[2];
if (!urlFile) {
  process.stderr.write('usage: tsx test/docker/serve-mariadb.ts <url-file>\n');
  process.exit(2);
}

const server = await startSandboxServer({ binlog: true, serverId: 7 });
try {
  await withConnection(server.conn, async (db) => {
    await db.exec('CREATE DATABASE image_test');
    await db.exec('CREATE TABLE image_test.visits (id INT PRIMARY KEY AUTO_INCREMENT, path VARCHAR(200) NOT NULL, at DATETIME NOT NULL)');
    await db.exec("INSERT INTO image_test.visits (path, at) SELECT CONCAT('/page/', seq), NOW() - INTERVAL seq MINUTE FROM image_test.seq_1_to_500");
  });
  await writeFile(urlFile, `${server.url}\n`, { mode: 0o600 });
} catch (err) {
  await server.stop();
  throw err;
}
process.stderr.write(`serve-mariadb: MariaDB ${server.version} on 127.0.0.1:${server.port}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
setInterval(() => undefined, 1 << 30);
