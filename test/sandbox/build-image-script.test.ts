// The image build reads its Debian mirror from apt's own configuration (never
// a hard-coded host): deb822 .sources stanzas and classic sources.list lines.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', '..', 'scripts', 'build-sandbox-image.sh');
let dir: string;

async function mirrors(files: Record<string, string>): Promise<{ exitCode: number | undefined; stdout: string }> {
  dir = await mkdtemp(join(tmpdir(), 'dbops-apt-'));
  await mkdir(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const r = await execa(script, ['--print-mirrors'], { reject: false, env: { DBOPS_APT_ETC: dir, DBOPS_DEBIAN_SUITE: 'bookworm' } });
  return { exitCode: r.exitCode, stdout: r.stdout };
}

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('build-sandbox-image.sh --print-mirrors', () => {
  it('reads deb822 stanzas, skipping disabled ones, deb-src and other suites', async () => {
    const r = await mirrors({
      'sources.list.d/a.sources': [
        'Types: deb',
        'URIs: http://disabled.example/debian',
        'Suites: bookworm',
        'Enabled: no',
        '',
        'Types: deb-src',
        'URIs: http://src.example/debian',
        'Suites: bookworm',
        '',
        '# a comment',
        'Types: deb',
        'URIs: http://mirror.example/debian/',
        'Suites: bookworm bookworm-updates',
        'Components: main',
        '',
        'Types: deb',
        'URIs: http://security.example/debian-security',
        'Suites: bookworm-security',
        'Components: main',
      ].join('\n'),
      'sources.list.d/other.sources.disabled': 'Types: deb\nURIs: http://ignored.example/\nSuites: bookworm\n',
    });
    expect(r).toEqual({ exitCode: 0, stdout: 'main http://mirror.example/debian\nsecurity http://security.example/debian-security' });
  });

  it('reads classic deb lines with options and ignores commented ones', async () => {
    const r = await mirrors({
      'sources.list': [
        '# deb http://commented.example/debian bookworm main',
        'deb-src http://src.example/debian bookworm main',
        'deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://classic.example/debian bookworm main contrib',
      ].join('\n'),
      'sources.list.d/extra.list': 'deb http://sec.example/debian-security bookworm-security main\n',
    });
    expect(r).toEqual({ exitCode: 0, stdout: 'main https://classic.example/debian\nsecurity http://sec.example/debian-security' });
  });

  it('fails when apt has no mirror for the suite', async () => {
    const r = await mirrors({ 'sources.list': 'deb http://old.example/debian bullseye main\n' });
    expect(r).toEqual({ exitCode: 1, stdout: '' });
  });
});
