// Programs that stream through C stdio (mariadb-dump, mysqlbinlog) run under coreutils'
// stdbuf with a 1 MiB stdout buffer, in place (same pid), and a missing one still gets the
// one-line "not found" error rather than stdbuf's exit 127.
import { describe, expect, it } from 'vitest';
import { startTool, waitTool } from '../../src/util/tool-process.js';
import { ToolError } from '../../src/errors.js';

async function output(proc: ReturnType<typeof startTool>): Promise<string> {
  proc.stdin.end();
  let text = '';
  for await (const chunk of proc.stdout) text += String(chunk);
  await waitTool(proc, 'sh');
  return text;
}

describe('startTool bufferStdout', () => {
  it('runs the program itself under a 1 MiB stdio buffer, with the pid we hold', async () => {
    const proc = startTool('sh', ['-c', 'echo "$$ ${_STDBUF_O:-none}"'], { bufferStdout: true });
    const [pid, buffer] = (await output(proc)).trim().split(' ');
    expect(Number(pid)).toBe(proc.pid);
    expect(buffer).toBe(String(1024 * 1024));
  });

  it('leaves other programs alone', async () => {
    const proc = startTool('sh', ['-c', 'echo "${_STDBUF_O:-none}"']);
    expect((await output(proc)).trim()).toBe('none');
  });

  it('reports a missing program as not found, as without stdbuf', async () => {
    const proc = startTool('dbops-no-such-tool', [], { bufferStdout: true });
    proc.stdin.end();
    const err = await waitTool(proc, 'dbops-no-such-tool').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toMatch(/dbops-no-such-tool.*not found on PATH/);
  });
});
