// The external programs a backup runs: the dump, client and binlog tools of the
// source's flavour (MySQL's mysqlbinlog cannot read MariaDB binlogs and the other way
// round), at a version not older than the server's, plus zstd and age; with backup.kind
// physical, the physical backup tool of the server's own major.minor (it reads and writes
// InnoDB's files, whose formats change between versions) and its stream extractor.
import { execa } from 'execa';
import { findFirstTool } from '../mysql/find-tool.js';
import { flavorProfile } from '../mysql/flavor.js';
import type { ServerInfo } from '../mysql/server-info.js';
import { physicalToolFor, resolvePhysicalTools } from '../physical/tools.js';
import { check, type DoctorCheck } from './check.js';

async function firstLine(path: string): Promise<string> {
  const r = await execa(path, ['--version'], { reject: false, timeout: 10_000 });
  return String(r.stdout || r.stderr).split('\n')[0]!.trim();
}

/** Server version a client tool was built for, from `--version` ("Distrib 10.11.19-MariaDB", "Ver 8.0.36"). */
export function toolVersion(text: string): { flavor: 'mysql' | 'mariadb'; major: number; minor: number } | undefined {
  const m = /Distrib (\d+)\.(\d+)\.\d+/.exec(text) ?? /Ver (\d+)\.(\d+)\.\d+/.exec(text);
  if (!m) return undefined;
  return { flavor: /mariadb/i.test(text) ? 'mariadb' : 'mysql', major: Number(m[1]), minor: Number(m[2]) };
}

export async function toolChecks(info: ServerInfo | undefined, opts: { physical?: boolean } = {}): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const flavor = info?.flavor ?? 'mariadb';
  const pkg = flavor === 'mariadb' ? 'mariadb-client' : 'mysql-client';
  const tools = info ? flavorProfile(info).tools : { dump: ['mariadb-dump', 'mysqldump'], client: ['mariadb', 'mysql'], binlog: ['mariadb-binlog', 'mysqlbinlog'] };
  for (const [role, names] of Object.entries(tools) as Array<[string, string[]]>) {
    const found = findFirstTool(names);
    if (!found) {
      out.push(check(`tools.${role}`, `${role} tool`, 'fail', `none of ${names.join(', ')} is on PATH`, `install ${pkg}${info ? ` ${info.major}.${info.minor}` : ''}`));
      continue;
    }
    const text = await firstLine(found.path);
    const v = toolVersion(text);
    if (info && role === 'binlog') {
      const isMariadb = found.name.startsWith('mariadb') || /mariadb/i.test(text);
      out.push(isMariadb === (flavor === 'mariadb')
        ? check(`tools.${role}`, `${role} tool`, 'ok', `${found.path}: ${text}`)
        : check(`tools.${role}`, `${role} tool`, 'fail', `${found.path} is ${isMariadb ? 'MariaDB' : 'MySQL'}'s, the source is ${flavor}: it cannot decode these binlogs`, `install ${pkg} and put its ${names[0]} first on PATH`));
      continue;
    }
    if (info && v && v.flavor !== flavor) {
      out.push(check(`tools.${role}`, `${role} tool`, 'fail', `${found.path} is from ${v.flavor} ${v.major}.${v.minor}, the source is ${flavor} ${info.version}`, `install ${pkg} ${info.major}.${info.minor} and put it first on PATH`));
    } else if (info && v && (v.major < info.major || (v.major === info.major && v.minor < info.minor))) {
      out.push(check(`tools.${role}`, `${role} tool`, 'warn', `${found.path} is ${v.major}.${v.minor}, older than the server (${info.version}): newer server features may not dump or restore`, `install ${pkg} ${info.major}.${info.minor} or newer`));
    } else {
      out.push(check(`tools.${role}`, `${role} tool`, 'ok', `${found.path}: ${text}`));
    }
  }
  if (opts.physical) out.push(await physicalToolCheck(info));
  // setpriv starts age so that it dies with dbops when a restore reads a file (tool-process.ts).
  for (const [name, fix] of [['zstd', 'apt-get install zstd'], ['age', 'apt-get install age (1.1 or newer)'], ['setpriv', 'apt-get install util-linux']] as const) {
    const found = findFirstTool([name]);
    out.push(found ? check(`tools.${name}`, `${name}`, 'ok', `${found.path}: ${await firstLine(found.path)}`) : check(`tools.${name}`, name, 'fail', `${name} is not on PATH`, fix));
  }
  return out;
}

/** The physical tool ("mariadb-backup based on MariaDB server 10.11.19-MariaDB …", "xtrabackup version 8.0.35-30 based on MySQL server 8.0.35"). */
async function physicalToolCheck(info: ServerInfo | undefined): Promise<DoctorCheck> {
  const title = 'physical backup tool';
  let programs;
  try {
    programs = resolvePhysicalTools(physicalToolFor(info?.flavor ?? 'mariadb'));
  } catch (err) {
    return check('tools.physical', title, 'fail', `${(err as Error).message} (backup.kind is physical)`, 'install it on the host where the datadir is');
  }
  const text = await firstLine(programs.backup);
  const m = /server (\d+)\.(\d+)\.\d+/i.exec(text);
  if (info && m && (Number(m[1]) !== info.major || Number(m[2]) !== info.minor)) {
    return check('tools.physical', title, 'fail', `${programs.backup} is for ${m[1]}.${m[2]}, the server is ${info.version}: a physical backup needs the tool of the server's version`, `install the tool for ${info.major}.${info.minor}`);
  }
  return check('tools.physical', title, 'ok', `${programs.backup}: ${text}; ${programs.stream}`);
}
