/**
 * What every lab server is, and the process plumbing they share.
 *
 * A server is a plain local process bound to 127.0.0.1, started detached (its own process
 * group, output to `server.log`, pid in `server.pid`) and `unref()`ed, so `lab up` and the test
 * runner exit while the servers keep running. Whether a pid is still *ours* is checked against
 * its command line (an exact argument such as the data directory), so a recycled pid is never
 * mistaken for a server, and `stop` never signals a stranger.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MovingDataError, type ErrorCode } from '../errors.ts';
import type { LabCredentials } from './credentials.ts';
import type { LabPaths } from './paths.ts';

export const SERVER_NAMES = ['minio', 'azurite', 'fake-gcs', 'kafka', 'postgres'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export function isServerName(value: string): value is ServerName {
  return (SERVER_NAMES as readonly string[]).includes(value);
}

/** Progress messages for humans (the CLI prints them to stderr; tests stay quiet). */
export type LabLog = (message: string) => void;

export const LAB_HOST = '127.0.0.1';

/** What every server factory receives: where the lab lives and its secrets. */
export interface LabContext {
  readonly paths: LabPaths;
  readonly credentials: LabCredentials;
}

/** Where one instance of a server runs: the shared lab's defaults, or a private instance's. */
export interface Placement {
  readonly port: number;
  /** Data, server.log and server.pid go here. */
  readonly dir: string;
  /** A second port, for servers that bind two (Kafka's controller). */
  readonly secondPort?: number;
}

export interface LabServer {
  readonly name: ServerName;
  /** The port clients use. */
  readonly port: number;
  /** Every port the server binds, `port` first (Kafka also binds its controller port). */
  readonly ports: readonly number[];
  /** Where its data, log and pid file live. */
  readonly dir: string;
  readonly logPath: string;
  /** How long `start()` plus readiness may take before the start counts as failed. */
  readonly startTimeoutMs: number;
  /** True when everything `install()` provides is already in place (stamps match). */
  installed(): Promise<boolean>;
  /** Builds or fetches what the server needs; idempotent and cached. */
  install(log: LabLog): Promise<void>;
  /** Launches the server and returns without waiting for it to answer. */
  start(): Promise<void>;
  /** One bounded probe: does the server answer real requests right now? */
  ready(): Promise<boolean>;
  /** Stops the server if it runs (bounded), and removes its pid file. */
  stop(): Promise<void>;
  /** The pid of our running server, or undefined when it does not run. */
  pid(): Promise<number | undefined>;
  /** Connection settings clients need, with the lab's variable names. */
  env(): Record<string, string>;
}

export function tailText(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function logTail(logPath: string, lines = 20): Promise<string> {
  try {
    // Only the end matters; a huge log is cut before splitting.
    const text = await readFile(logPath, 'utf8');
    return tailText(text.length > 256 * 1024 ? text.slice(-256 * 1024) : text, lines);
  } catch {
    return '(no log yet)';
  }
}

/** A failure of one server, naming it and showing where to look. */
export async function serverError(
  server: Pick<LabServer, 'name' | 'logPath'>,
  message: string,
  options: { code?: ErrorCode; cause?: unknown; logPath?: string } = {},
): Promise<MovingDataError> {
  const logPath = options.logPath ?? server.logPath;
  const tail = await logTail(logPath);
  return new MovingDataError(
    options.code ?? 'unavailable',
    `lab ${server.name}: ${message}\n  log: ${logPath}\n  last lines:\n${indent(tail)}`,
    { cause: options.cause, details: { server: server.name, logPath } },
  );
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The argv of a live process, or undefined where /proc is not available. */
async function commandLine(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg) => arg.length > 0);
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and (where it can be checked) has `marker` among its arguments. */
export async function isOurProcess(pid: number, marker: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const argv = await commandLine(pid);
  if (argv === undefined) return process.platform !== 'linux';
  return argv.includes(marker);
}

export async function readPidFile(pidPath: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(pidPath, 'utf8')).trim().split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until `pid` is gone; true if it went before the deadline. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH' && group) signal(pid, sig, false);
  }
}

/** SIGTERM (or `sig`) to the process group, a bounded wait, then SIGKILL. */
export async function terminate(
  pid: number,
  options: { graceMs?: number; sig?: NodeJS.Signals; group?: boolean } = {},
): Promise<void> {
  const group = options.group ?? true;
  signal(pid, options.sig ?? 'SIGTERM', group);
  if (await waitForExit(pid, options.graceMs ?? 15_000)) return;
  signal(pid, 'SIGKILL', group);
  if (!(await waitForExit(pid, 5_000))) {
    throw new MovingDataError('unavailable', `process ${pid} survived SIGKILL`);
  }
}

export interface SpawnSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd: string;
  readonly logPath: string;
}

/**
 * Starts a detached process whose output goes to its log file, and lets go of it: the caller
 * may exit while the process keeps running.
 */
export async function spawnDetached(spec: SpawnSpec): Promise<number> {
  await mkdir(spec.cwd, { recursive: true });
  const out = openSync(spec.logPath, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', out, out],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid ?? 0));
    });
    child.unref();
    return pid;
  } finally {
    closeSync(out);
  }
}

/** Keeps one previous log: a lab that runs for months must not fill the disk. */
export async function rotateLog(logPath: string, maxBytes = 32 * 1024 * 1024): Promise<void> {
  const size = await stat(logPath).then(
    (s) => s.size,
    () => 0,
  );
  if (size > maxBytes) await rename(logPath, `${logPath}.1`);
}

/** Processes started by this process that must not outlive it (private instances). */
const reapOnExit = new Map<number, NodeJS.Signals>();
let reaperInstalled = false;

/** Makes sure `pid` is signalled when this process exits, even if nobody called `stop()`. */
export function killOnExit(pid: number, sig: NodeJS.Signals = 'SIGTERM'): void {
  reapOnExit.set(pid, sig);
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const [target, s] of reapOnExit) signal(target, s, true);
  });
}

export function forgetOnExit(pid: number): void {
  reapOnExit.delete(pid);
}

/**
 * A server that is one detached process: start, find and stop it through its pid file.
 * `marker` is an argument only this instance's command line has (e.g. its data directory).
 */
export class DetachedProcess {
  readonly pidPath: string;
  readonly logPath: string;
  readonly #cwd: string;
  readonly #marker: string;
  readonly #graceMs: number;

  constructor(options: { dir: string; logPath: string; pidPath: string; marker: string; graceMs?: number }) {
    this.#cwd = options.dir;
    this.logPath = options.logPath;
    this.pidPath = options.pidPath;
    this.#marker = options.marker;
    this.#graceMs = options.graceMs ?? 15_000;
  }

  async pid(): Promise<number | undefined> {
    const pid = await readPidFile(this.pidPath);
    return pid !== undefined && (await isOurProcess(pid, this.#marker)) ? pid : undefined;
  }

  async start(command: string, args: readonly string[], env?: Record<string, string>): Promise<number> {
    await rotateLog(this.logPath);
    await writeFile(this.logPath, `\n--- ${new Date().toISOString()} starting ${command} ${args.join(' ')}\n`, {
      flag: 'a',
    });
    const pid = await spawnDetached({ command, args, env, cwd: this.#cwd, logPath: this.logPath });
    await writeFile(this.pidPath, `${pid}\n`);
    return pid;
  }

  async stop(): Promise<void> {
    const pid = await this.pid();
    if (pid !== undefined) await terminate(pid, { graceMs: this.#graceMs });
    await rm(this.pidPath, { force: true });
  }
}
