// Flags of `npm run bench`, parsed by hand (a dev script, not part of the CLI contract)
// so a typo fails at once with the list of what is accepted.
export interface BenchArgs {
  /** Seed target: table data (InnoDB data_length) in bytes. */
  sizeBytes: number;
  /** Benchmark groups to run: "backup", "restore", "physical", "binlog" (default all), always in that order. */
  only: string[];
  /** Leave the work directory (repositories, keys, logs) in place. */
  keep: boolean;
  /** Runs of each measurement; the table shows the median. */
  repeat: number;
  /** Directory holding a seeded datadir to reuse (created and seeded on first use). */
  reuse?: string;
  /** Write a V8 CPU profile of each dbops process to the results directory. */
  cpuProf: boolean;
  /** Skip the S3 measurement. */
  skipS3: boolean;
  /** binlog group, shipping lag: writer duration (s), rows per second, binlog.maxLagSeconds. */
  lagSeconds: number;
  lagRate: number;
  maxLag: number;
  /** binlog group, shipping lag: binlog.partialSegments for the shipper (on, as dbops's default). */
  partialSegments: boolean;
  /** binlog group, replay: writer connections of the concurrent load (the replay goal's). */
  loadWriters: number;
}

export const GROUPS = ['backup', 'restore', 'physical', 'binlog'] as const;

const USAGE =
  'usage: npm run bench -- [--size 1GB] [--only backup,restore,physical,binlog] [--repeat N] [--reuse DIR] [--cpu-prof] [--no-s3] [--keep] [--lag-seconds 60] [--lag-rate 300] [--max-lag 5] [--no-partial-segments] [--load-writers 8]';

/** "100MB", "1GB", "1.5 GB", "500kb" → bytes (decimal units, like the seed and the demo). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB)?$/i.exec(text.trim());
  if (!m) throw new Error(`--size takes a size like 100MB or 1GB, got "${text}"`);
  const unit = (m[2] ?? 'MB').toUpperCase();
  const bytes = Math.round(Number(m[1]) * (unit === 'KB' ? 1e3 : unit === 'MB' ? 1e6 : 1e9));
  if (bytes < 1e6) throw new Error(`--size must be at least 1MB, got "${text}"`);
  return bytes;
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} takes a whole number from ${min} to ${max}`);
  return n;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = { sizeBytes: 1e9, only: [...GROUPS], keep: false, repeat: 1, cpuProf: false, skipS3: false, lagSeconds: 60, lagRate: 300, maxLag: 5, partialSegments: true, loadWriters: 8 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value; ${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--size':
        out.sizeBytes = parseSize(value());
        break;
      case '--only': {
        const groups = value().split(',').map((g) => g.trim()).filter(Boolean);
        const unknown = groups.filter((g) => !(GROUPS as readonly string[]).includes(g));
        if (unknown.length) throw new Error(`--only: unknown group ${unknown.join(', ')}; known: ${GROUPS.join(', ')}`);
        out.only = groups;
        break;
      }
      case '--repeat': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error('--repeat takes a whole number from 1 to 20');
        out.repeat = n;
        break;
      }
      case '--reuse':
        out.reuse = value();
        break;
      case '--keep':
        out.keep = true;
        break;
      case '--cpu-prof':
        out.cpuProf = true;
        break;
      case '--no-s3':
        out.skipS3 = true;
        break;
      case '--lag-seconds':
        out.lagSeconds = wholeNumber(flag, value(), 10, 3600);
        break;
      case '--lag-rate':
        out.lagRate = wholeNumber(flag, value(), 10, 10_000);
        break;
      case '--max-lag':
        // binlog.maxLagSeconds accepts 2 and up (src/config/schema.ts).
        out.maxLag = wholeNumber(flag, value(), 2, 3600);
        break;
      // On by default, as in dbops; the flag stays so that the recorded command lines still run.
      case '--partial-segments':
        out.partialSegments = true;
        break;
      case '--no-partial-segments':
        out.partialSegments = false;
        break;
      // 8: a small web tier's connection pool (mysql2's pool defaults to 10); on 2 cores more
      // connections only queue for the CPU. 1 is the other load the group always measures.
      case '--load-writers':
        out.loadWriters = wholeNumber(flag, value(), 2, 64);
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default:
        throw new Error(`unknown flag ${flag}; ${USAGE}`);
    }
  }
  return out;
}
