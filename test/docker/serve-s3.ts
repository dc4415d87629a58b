// A throwaway S3 protocol server (the tests' s3rver) for scripts/container-image-test.sh:
// the image backs up into it over the host's loopback (`--network host`), as the compose
// stack's dbops services do into its S3 server. Writes the endpoint to a file, then serves
// until SIGTERM/SIGINT and removes its data. Its one preconfigured bucket is not the one the
// image uses: docker/create-bucket.mjs must create that, as in the compose stack.
//   tsx test/docker/serve-s3.ts <endpoint-file>
import { writeFile } from 'node:fs/promises';
import { startS3Server } from '../helpers/s3-server.js';

const endpointFile = process.argv[2];
if (!endpointFile) {
  process.stderr.write('usage: tsx test/docker/serve-s3.ts <endpoint-file>\n');
  process.exit(2);
}

const server = await startS3Server({ bucket: 'unused-by-the-image' });
await writeFile(endpointFile, `${server.endpoint}\n`);
process.stderr.write(`serve-s3: s3rver on ${server.endpoint}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await server.cleanup();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
setInterval(() => undefined, 1 << 30);
