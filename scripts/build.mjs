// Builds the CLI as one bundle split at the commands' lazy imports (dist/cli/main.js and
// dist/chunks/): a command loads a few chunks instead of resolving some 300 modules one by
// one, which was most of every command's start-up (measured in scripts/bench/README.md,
// "The CLI's start-up"). Types are checked by tsc before this runs.
// pino stays outside the bundle: its pretty-printing transport starts a worker thread that
// loads files from node_modules by path, which a bundle does not have.
import { build } from 'esbuild';
import { chmod, readFile, rm } from 'node:fs/promises';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const nodeMajor = /^>=(\d+)/.exec(pkg.engines?.node ?? '')?.[1];
if (!nodeMajor) throw new Error('package.json engines.node must read ">=N"');

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: {
    'cli/main': 'src/cli/main.ts',
    // Imported by docker/create-bucket.mjs, so that it reads config and storage URLs as dbops does.
    'config/load-config': 'src/config/load-config.ts',
    'storage/open-storage': 'src/storage/open-storage.ts',
  },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: `node${nodeMajor}`,
  packages: 'bundle',
  external: ['pino', 'pino-pretty'],
  // CommonJS dependencies (mysql2, the AWS SDK) call require(); an ES module has none.
  banner: { js: "import { createRequire as __dbopsCreateRequire } from 'node:module'; const require = __dbopsCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
});
await chmod('dist/cli/main.js', 0o755);
