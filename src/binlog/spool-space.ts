// Free space in the spool. mariadb-binlog writes its raw copies through stdio buffers and
// does not report a failed write on a full disk: it carries on with a torn or empty copy
// (measured: a 64 KiB tmpfs spool; the tool kept running, 0-byte next file, no stderr).
// So the shipper finds out by checking its copies, and asks the filesystem why.
import { statfs } from 'node:fs/promises';

/** Room kept free beyond what a file to stream needs, so the next events fit too. */
export const SPOOL_HEADROOM = 1024 * 1024;

/** Bytes an unprivileged writer may still use on the filesystem of `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** The error line for a full spool: names ENOSPC, where, and what to do. */
export function spoolFullMessage(spool: string, free: number, needed: number, file: string | null): string {
  return `binlog spool ${spool} is full (ENOSPC, no space left on device): ${free} bytes free, ${needed} needed${file ? ` to stream ${file} again` : ''}; free space there or set binlog.spoolDir to a larger filesystem. Shipping resumes by itself once there is room; until then the source must keep its binlogs (check its binlog expiry)`;
}
