// Polling for what a daemon or server does on its own schedule: the value once `fn` gives one,
// else a timeout naming what was awaited, the last error seen and any extra context.
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${context ? `\n${context()}` : ''}`);
}
