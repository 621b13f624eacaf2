/**
 * The machine around the lab: finding tools on PATH, running bounded commands into a log
 * file, and installing the Debian packages the tests and benches call (postgresql, rclone,
 * age, time). A missing tool is a clear `config_invalid` error that names it.
 */
import { spawn } from 'node:child_process';
import { constants, closeSync, openSync } from 'node:fs';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { MovingDataError } from '../errors.ts';
import { tailText, type LabLog } from './server.ts';
import { isRoot } from './paths.ts';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `command` on PATH, or undefined. */
export async function which(command: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, command)))) return join(dir, command);
  }
  return undefined;
}

/** A PostgreSQL server tool (initdb, pg_ctl, ...) from PATH or Debian's /usr/lib/postgresql/<v>/bin. */
export async function findPostgresTool(tool: string): Promise<string | undefined> {
  const onPath = await which(tool);
  if (onPath) return onPath;
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  // Newest major version first.
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const candidate = join('/usr/lib/postgresql', version, 'bin', tool);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

const TOOL_HINTS: Readonly<Record<string, string>> = {
  go: 'Go 1.24+ (https://go.dev/dl, or apt-get install -y golang-go where new enough)',
  java: 'OpenJDK 17+ (apt-get install -y openjdk-17-jre-headless)',
  mvn: 'Maven (apt-get install -y maven)',
  python3: 'Python 3 with its venv module (apt-get install -y python3 python3-venv)',
};

/** Fails with one message naming every tool that is missing and what it is needed for. */
export async function requireTools(needs: Readonly<Record<string, string>>): Promise<void> {
  const missing: string[] = [];
  for (const [tool, purpose] of Object.entries(needs)) {
    if (!(await which(tool))) missing.push(`${tool} (${purpose})`);
  }
  if (missing.length > 0) {
    const hints = Object.keys(needs)
      .filter((tool) => missing.some((m) => m.startsWith(`${tool} `)))
      .map((tool) => TOOL_HINTS[tool] ?? tool);
    throw new MovingDataError(
      'config_invalid',
      `the lab needs these tools on PATH, and they are missing: ${missing.join(', ')}. Install ${hints.join('; ')}.`,
    );
  }
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
}

/**
 * Runs a command to completion with a deadline, appending its output to `logPath`. Never
 * throws for a non-zero exit: callers decide, usually with the log's tail in the message.
 */
export async function runLogged(
  command: string,
  args: readonly string[],
  options: { logPath: string; env?: Record<string, string>; cwd?: string; timeoutMs: number },
): Promise<CommandResult> {
  await mkdir(dirname(options.logPath), { recursive: true });
  const out = openSync(options.logPath, 'a');
  try {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', out, out],
    });
    return await new Promise<CommandResult>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, timedOut });
      });
    });
  } finally {
    closeSync(out);
  }
}

/** Runs a command and returns its output (bounded); rejects with the output on failure. */
export function runCaptured(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      if (output.length < 256 * 1024) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? 'a signal'}:\n${tailText(output)}`));
    });
  });
}

interface DebianPackage {
  readonly name: string;
  readonly present: () => Promise<boolean>;
}

/** Debian packages the tests and benches need, each with how to tell it is installed. */
const DEBIAN_PACKAGES: readonly DebianPackage[] = [
  { name: 'postgresql', present: async () => (await findPostgresTool('initdb')) !== undefined },
  { name: 'rclone', present: async () => (await which('rclone')) !== undefined },
  { name: 'age', present: async () => (await which('age')) !== undefined },
  { name: 'time', present: () => isExecutable('/usr/bin/time') },
];

export async function missingDebianPackages(): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of DEBIAN_PACKAGES) if (!(await pkg.present())) missing.push(pkg.name);
  return missing;
}

/**
 * Installs the missing Debian packages with apt-get (as root, or through passwordless sudo),
 * running `apt-get update` once if the first attempt fails.
 */
export async function ensureDebianPackages(logPath: string, log: LabLog): Promise<void> {
  const missing = await missingDebianPackages();
  if (missing.length === 0) return;
  const list = missing.join(' ');
  let prefix: string[] = [];
  if (!isRoot()) {
    const sudo = await which('sudo');
    const passwordless = sudo !== undefined && (await runCaptured('sudo', ['-n', 'true'], { timeoutMs: 10_000 }).then(
      () => true,
      () => false,
    ));
    if (!passwordless) {
      throw new MovingDataError(
        'config_invalid',
        `the lab needs these Debian packages: ${list}. Not root and no passwordless sudo: ` +
          `install them yourself (sudo apt-get install -y ${list}) and run 'lab install' again.`,
      );
    }
    prefix = ['sudo', '-n'];
  }
  if (!(await which('apt-get'))) {
    throw new MovingDataError('config_invalid', `the lab needs these packages and apt-get is not available: ${list}`);
  }
  log(`installing Debian packages: ${list} (log: ${logPath})`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const aptGet = async (args: string[]): Promise<boolean> => {
    const [command, ...rest] = [...prefix, 'apt-get', ...args];
    const result = await runLogged(command ?? 'apt-get', rest, { logPath, env, timeoutMs: 15 * 60_000 });
    return result.code === 0;
  };
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (!(await aptGet(install))) {
    log('apt-get install failed; running apt-get update once and retrying');
    if (!(await aptGet(['update'])) || !(await aptGet(install))) {
      const tail = tailText(await readFile(logPath, 'utf8').catch(() => ''));
      throw new MovingDataError('unavailable', `apt-get could not install ${list}\n  log: ${logPath}\n${tail}`);
    }
  }
  const still = await missingDebianPackages();
  if (still.length > 0) {
    throw new MovingDataError('unavailable', `apt-get ran but these are still missing: ${still.join(' ')}`);
  }
  if (missing.includes('postgresql')) await stopDebianClusters(logPath);
}

/**
 * Debian's postgresql package creates and may start a cluster on port 5432, the lab's port.
 * Right after we installed it, stop that cluster (best effort) so the lab's own can bind.
 */
async function stopDebianClusters(logPath: string): Promise<void> {
  if (!(await which('pg_lsclusters'))) return;
  const listing = await runCaptured('pg_lsclusters', ['-h'], { timeoutMs: 10_000 }).catch(() => '');
  for (const line of listing.split('\n')) {
    const [version, cluster, , status] = line.trim().split(/\s+/);
    if (version && cluster && status === 'online') {
      await runLogged('pg_ctlcluster', [version, cluster, 'stop'], { logPath, timeoutMs: 60_000 }).catch(() => undefined);
    }
  }
}
