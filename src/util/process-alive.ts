// Whether a pid names a running process on this host, for locks and leases whose holder may
// have died without releasing them (kill -9). EPERM means it runs as another user: alive.
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
