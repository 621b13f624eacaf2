/**
 * The lab: real servers (MinIO, Azurite, fake-gcs-server, Kafka, PostgreSQL) run as plain local
 * processes on 127.0.0.1, installed once into a cache and shared by every test run, bench and
 * developer on the machine. This is its public API; the CLI (`movingdata lab ...`) and the
 * Vitest global setup are thin wrappers around it.
 *
 * - `installLab()`   builds/fetches what is missing (idempotent; seconds when cached), including
 *                    a Python venv with pinned `cryptography` (Fernet interop) and `schemathesis` (API contract).
 * - `startLab()`     starts what is not running and waits until each answers; a running, ready
 *                    server is reused. Returns the env and which servers this call started.
 * - `stopLab()`      stops the lab's servers.
 * - `labStatus()`    running/ready, pid, port and log of each server.
 * - `labEnv()`       the connection settings (S3_ENDPOINT, DATABASE_URL, ..., LAB_PYTHON).
 * - `startPrivateServer()` a private, throwaway instance on its own port and directory, for
 *                    fault-injection tests that stop and restart a server without disturbing
 *                    the shared one.
 *
 * Commands that change the lab take a lock (lab.lock under the lab home), so a test run and a
 * `lab up` started at the same moment do not start two copies of a server.
 */
import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMovingDataError, MovingDataError } from '../errors.ts';
import { loadCredentials } from './credentials.ts';
import { isRoot, labHome, labPaths, postgresHome, runDir, type LabPaths } from './paths.ts';
import { freePort, tcpAnswers } from './probes.ts';
import { installLabPython, labPython } from './python.ts';
import {
  LAB_HOST,
  SERVER_NAMES,
  isAlive,
  isServerName,
  forgetOnExit,
  killOnExit,
  readPidFile,
  serverError,
  type LabContext,
  type LabLog,
  type LabServer,
  type Placement,
  type ServerName,
} from './server.ts';
import { AZURITE_PORT, azuriteServer } from './servers/azurite.ts';
import { FAKE_GCS_PORT, fakeGcsServer } from './servers/fake-gcs.ts';
import { KAFKA_CONTROLLER_PORT, KAFKA_PORT, kafkaServer } from './servers/kafka.ts';
import { MINIO_PORT, minioServer } from './servers/minio.ts';
import { POSTGRES_PORT, postgresServer } from './servers/postgres.ts';
import { ensureDebianPackages } from './system.ts';

export { SERVER_NAMES, isServerName, type LabServer, type ServerName } from './server.ts';
export { labHome, labPaths } from './paths.ts';

export interface LabOptions {
  /** Lab home; defaults to $MOVINGDATA_LAB_HOME or ~/.cache/movingdata/lab. */
  readonly home?: string;
  /** Progress for humans; silent by default. */
  readonly log?: LabLog;
}

const quiet: LabLog = () => undefined;

const FACTORIES: Record<ServerName, (ctx: LabContext, at: Placement, logPath?: string) => LabServer> = {
  minio: minioServer,
  azurite: azuriteServer,
  'fake-gcs': fakeGcsServer,
  kafka: kafkaServer,
  postgres: postgresServer,
};

async function labContext(paths: LabPaths): Promise<LabContext> {
  await mkdir(paths.home, { recursive: true });
  return { paths, credentials: await loadCredentials(paths.credentials) };
}

/** The shared lab's servers on their well-known ports. */
function sharedServers(ctx: LabContext): Record<ServerName, LabServer> {
  const { paths } = ctx;
  return {
    minio: minioServer(ctx, { port: MINIO_PORT, dir: runDir(paths, 'minio') }),
    azurite: azuriteServer(ctx, { port: AZURITE_PORT, dir: runDir(paths, 'azurite') }),
    'fake-gcs': fakeGcsServer(ctx, { port: FAKE_GCS_PORT, dir: runDir(paths, 'fake-gcs') }),
    kafka: kafkaServer(ctx, { port: KAFKA_PORT, secondPort: KAFKA_CONTROLLER_PORT, dir: runDir(paths, 'kafka') }),
    postgres: postgresServer(
      ctx,
      { port: POSTGRES_PORT, dir: postgresHome(paths) },
      join(runDir(paths, 'postgres'), 'server.log'),
    ),
  };
}

function selectNames(names: readonly string[] | undefined): ServerName[] {
  if (names === undefined || names.length === 0) return [...SERVER_NAMES];
  const unknown = names.filter((name) => !isServerName(name));
  if (unknown.length > 0) {
    throw new MovingDataError(
      'invalid_argument',
      `unknown lab server ${unknown.map((n) => `'${n}'`).join(', ')}; known: ${SERVER_NAMES.join(', ')}`,
    );
  }
  return SERVER_NAMES.filter((name) => names.includes(name));
}

/** Runs `fn` holding the lab lock; waits (bounded) while another live process holds it. */
async function withLabLock<T>(paths: LabPaths, fn: () => Promise<T>): Promise<T> {
  await mkdir(paths.home, { recursive: true });
  const ownerFile = join(paths.lock, 'owner');
  const deadline = Date.now() + 20 * 60_000; // a cold MinIO build can hold it for minutes
  for (;;) {
    try {
      await mkdir(paths.lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readPidFile(ownerFile);
    const age = await stat(paths.lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    // A dead owner, or an owner that never wrote its pid, left a stale lock.
    if ((owner !== undefined && !isAlive(owner)) || (owner === undefined && age > 10_000)) {
      await rm(paths.lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new MovingDataError('unavailable', `another lab command (pid ${owner ?? '?'}) still holds ${paths.lock}`);
    }
    await sleep(250);
  }
  await writeFile(ownerFile, `${process.pid}\n`);
  try {
    return await fn();
  } finally {
    await rm(paths.lock, { recursive: true, force: true });
  }
}

/** Installs one server after another (builds are heavy), then reports every failure at once. */
async function installServers(ctx: LabContext, servers: readonly LabServer[], log: LabLog): Promise<void> {
  const failures: MovingDataError[] = [];
  for (const server of servers) {
    if (await server.installed()) continue;
    try {
      await server.install(log);
    } catch (err) {
      failures.push(
        isMovingDataError(err)
          ? err
          : await serverError(server, `install failed: ${err instanceof Error ? err.message : String(err)}`, {
              code: 'config_invalid',
              cause: err,
              logPath: join(ctx.paths.home, 'install.log'),
            }),
      );
    }
  }
  const [first] = failures;
  if (first === undefined) return;
  if (failures.length === 1) throw first;
  const code = failures.every((f) => f.code === 'config_invalid') ? 'config_invalid' : 'unavailable';
  throw new MovingDataError(code, failures.map((f) => f.message).join('\n'), { cause: first });
}

/**
 * Installs everything the lab needs (Debian packages, Go-built servers, Kafka jars). Cached and
 * idempotent: when everything is in place it only checks stamps.
 */
export async function installLab(options: LabOptions = {}): Promise<void> {
  const paths = labPaths(options.home ?? labHome());
  const log = options.log ?? quiet;
  await withLabLock(paths, async () => {
    await ensureDebianPackages(join(paths.home, 'install.log'), log);
    const ctx = await labContext(paths);
    await installServers(ctx, Object.values(sharedServers(ctx)), log);
    await installLabPython(paths, log);
  });
}

/** Polls `ready()` until it holds, the process dies, or the server's start timeout passes. */
async function waitUntilReady(server: LabServer): Promise<void> {
  const deadline = Date.now() + server.startTimeoutMs;
  for (;;) {
    if (await server.ready()) return;
    if ((await server.pid()) === undefined) throw await serverError(server, 'exited during start-up');
    if (Date.now() > deadline) {
      throw await serverError(server, `did not answer within ${server.startTimeoutMs / 1000} s`);
    }
    await sleep(250);
  }
}

type StartOutcome = 'started' | 'reused';

async function ensureStarted(server: LabServer, log: LabLog): Promise<StartOutcome> {
  if ((await server.pid()) !== undefined) {
    // Ours and running: reuse it, waiting if it is still coming up.
    if (!(await server.ready())) {
      try {
        await waitUntilReady(server);
      } catch (err) {
        if (!isMovingDataError(err)) throw err;
        throw new MovingDataError(
          err.code,
          `${err.message}\n  (it runs but does not answer; 'lab down ${server.name}' and retry)`,
          { cause: err, details: err.details },
        );
      }
    }
    return 'reused';
  }
  for (const port of server.ports) {
    if (await tcpAnswers(LAB_HOST, port)) {
      throw new MovingDataError(
        'unavailable',
        `lab ${server.name}: port ${port} on ${LAB_HOST} is taken by another process (not this lab's ${server.name}); ` +
          'stop that process or free the port',
        { details: { server: server.name, port } },
      );
    }
  }
  log(`starting ${server.name} on ${LAB_HOST}:${server.port}`);
  try {
    await server.start();
    await waitUntilReady(server);
  } catch (err) {
    await server.stop().catch(() => undefined);
    if (isMovingDataError(err)) throw err;
    throw await serverError(server, `could not start: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return 'started';
}

/** Several servers at once; every failure is reported, not only the first. */
async function allOrReport<T>(servers: readonly LabServer[], fn: (server: LabServer) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(servers.map(fn));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    const code = failures.every((f) => isMovingDataError(f) && f.code === 'config_invalid') ? 'config_invalid' : 'unavailable';
    throw new MovingDataError(code, messages.join('\n\n'), { cause: failures[0] });
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function collectEnv(servers: Iterable<LabServer>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const server of servers) Object.assign(env, server.env());
  return env;
}

/** The shared lab's settings: every server's, plus the lab's Python (LAB_PYTHON). */
function sharedEnv(paths: LabPaths, servers: Iterable<LabServer>): Record<string, string> {
  return { ...collectEnv(servers), LAB_PYTHON: labPython(paths) };
}

async function writeEnvFile(paths: LabPaths, env: Record<string, string>): Promise<void> {
  const text = Object.entries(env)
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');
  const temp = `${paths.envFile}.${process.pid}.tmp`;
  // It holds secrets: owner-only, like credentials.json.
  await writeFile(temp, text, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, paths.envFile);
}

export interface LabStartResult {
  /** Connection settings of the whole lab (also written to lab.env). */
  readonly env: Record<string, string>;
  /** Servers this call started (a caller's teardown stops only these). */
  readonly started: ServerName[];
  /** Servers that were already running and answering. */
  readonly reused: ServerName[];
}

/**
 * Starts the named servers (default: all), installing what is missing first. Idempotent: a
 * running, ready server of this lab is reused; a port held by anything else is an error naming
 * the server and the port.
 */
export async function startLab(names?: readonly string[], options: LabOptions = {}): Promise<LabStartResult> {
  const selected = selectNames(names);
  const paths = labPaths(options.home ?? labHome());
  const log = options.log ?? quiet;
  return withLabLock(paths, async () => {
    const ctx = await labContext(paths);
    const all = sharedServers(ctx);
    const servers = selected.map((name) => all[name]);
    const missing = [];
    for (const server of servers) if (!(await server.installed())) missing.push(server.name);
    if (missing.length > 0) {
      log(`installing first: ${missing.join(', ')}`);
      await ensureDebianPackages(join(paths.home, 'install.log'), log);
      await installServers(ctx, servers, log);
    }
    await installLabPython(paths, log);
    const outcomes = await allOrReport(servers, (server) => ensureStarted(server, log));
    const env = sharedEnv(paths, Object.values(all));
    await writeEnvFile(paths, env);
    return {
      env,
      started: selected.filter((_, i) => outcomes[i] === 'started'),
      reused: selected.filter((_, i) => outcomes[i] === 'reused'),
    };
  });
}

/** Stops the named servers of the shared lab (default: all). Not running is not an error. */
export async function stopLab(names?: readonly string[], options: LabOptions = {}): Promise<ServerName[]> {
  const selected = selectNames(names);
  const paths = labPaths(options.home ?? labHome());
  const log = options.log ?? quiet;
  return withLabLock(paths, async () => {
    const all = sharedServers(await labContext(paths));
    const stopped: ServerName[] = [];
    await allOrReport(
      selected.map((name) => all[name]),
      async (server) => {
        if ((await server.pid()) === undefined) return;
        log(`stopping ${server.name}`);
        await server.stop();
        stopped.push(server.name);
      },
    );
    return SERVER_NAMES.filter((name) => stopped.includes(name));
  });
}

export interface ServerStatus {
  readonly name: ServerName;
  readonly running: boolean;
  readonly ready: boolean;
  readonly pid: number | undefined;
  readonly port: number;
  readonly ports: readonly number[];
  readonly dir: string;
  readonly logPath: string;
}

export async function labStatus(options: LabOptions = {}): Promise<ServerStatus[]> {
  const paths = labPaths(options.home ?? labHome());
  const all = sharedServers(await labContext(paths));
  return Promise.all(
    SERVER_NAMES.map(async (name) => {
      const server = all[name];
      const pid = await server.pid();
      return {
        name,
        running: pid !== undefined,
        ready: pid !== undefined && (await server.ready()),
        pid,
        port: server.port,
        ports: server.ports,
        dir: server.dir,
        logPath: server.logPath,
      };
    }),
  );
}

/** The shared lab's connection settings, whether or not the servers run right now. */
export async function labEnv(options: LabOptions = {}): Promise<Record<string, string>> {
  const paths = labPaths(options.home ?? labHome());
  return sharedEnv(paths, Object.values(sharedServers(await labContext(paths))));
}

export interface PrivateServerOptions {
  /** Port clients use; a free one is picked by default. */
  readonly port?: number;
  /** Kafka's controller port; a free one is picked by default. */
  readonly secondPort?: number;
  /** Data directory; a fresh one under the lab home (or the temp dir for Postgres as root) by default. */
  readonly dir?: string;
  /** Start right away (default true). */
  readonly start?: boolean;
  /** Signal the server when this process exits, even if nobody called stop() (default true). */
  readonly killOnExit?: boolean;
  readonly home?: string;
}

/** A private instance: its own port and data, stopped and restarted at will. */
export interface PrivateServer {
  readonly name: ServerName;
  readonly port: number;
  readonly ports: readonly number[];
  readonly dir: string;
  readonly logPath: string;
  /** The same variables as the shared lab's, pointing at this instance. */
  readonly env: Readonly<Record<string, string>>;
  /** Starts (or restarts) it and waits until it answers. */
  start(): Promise<void>;
  /** Stops it (bounded); its port is closed when this resolves. */
  stop(): Promise<void>;
  ready(): Promise<boolean>;
  pid(): Promise<number | undefined>;
  /** Stops it and deletes its directory if this call created it. */
  dispose(): Promise<void>;
}

async function distinctFreePorts(count: number, taken: readonly number[]): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 20; attempt++) {
    const port = await freePort();
    if (!ports.includes(port) && !taken.includes(port)) ports.push(port);
  }
  if (ports.length < count) throw new MovingDataError('unavailable', 'could not find free ports on 127.0.0.1');
  return ports;
}

async function privateDir(paths: LabPaths, name: ServerName): Promise<string> {
  // As root, Postgres runs as the postgres user, who cannot enter a lab home under /root.
  const parent = name === 'postgres' && isRoot() ? tmpdir() : paths.privateRuns;
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, name === 'postgres' ? 'movingdata-lab-postgres-private-' : `${name}-`));
}

/**
 * Starts a private instance of a lab server on its own port and directory, with the lab's
 * credentials. Fault-injection tests stop and restart it without touching the shared server.
 */
export async function startPrivateServer(name: ServerName, options: PrivateServerOptions = {}): Promise<PrivateServer> {
  const paths = labPaths(options.home ?? labHome());
  const ctx = await labContext(paths);
  const wanted = [options.port, options.secondPort].filter((p): p is number => p !== undefined);
  const [freeA, freeB] = await distinctFreePorts(2, wanted);
  const port = options.port ?? freeA ?? 0;
  const secondPort = name === 'kafka' ? (options.secondPort ?? freeB) : undefined;
  const createdDir = options.dir === undefined;
  const dir = options.dir ?? (await privateDir(paths, name));
  await mkdir(dir, { recursive: true });
  const server = FACTORIES[name](ctx, secondPort === undefined ? { port, dir } : { port, dir, secondPort });
  if (!(await server.installed())) {
    await withLabLock(paths, async () => {
      if (name === 'postgres') await ensureDebianPackages(join(paths.home, 'install.log'), quiet);
      await installServers(ctx, [server], quiet);
    });
  }
  const reap = options.killOnExit ?? true;
  const handle: PrivateServer = {
    name,
    port,
    ports: server.ports,
    dir,
    logPath: server.logPath,
    env: Object.freeze(server.env()),
    async start() {
      await ensureStarted(server, quiet);
      const pid = await server.pid();
      if (reap && pid !== undefined) killOnExit(pid, name === 'postgres' ? 'SIGINT' : 'SIGTERM');
    },
    async stop() {
      const pid = await server.pid();
      await server.stop();
      if (pid !== undefined) forgetOnExit(pid);
    },
    ready: () => server.ready(),
    pid: () => server.pid(),
    async dispose() {
      await handle.stop();
      if (createdDir) await rm(dir, { recursive: true, force: true });
    },
  };
  if (options.start ?? true) {
    try {
      await handle.start();
    } catch (err) {
      // Keep the directory when the error points at its log; otherwise leave nothing behind.
      const hasLog = await stat(server.logPath).then(
        () => true,
        () => false,
      );
      if (createdDir && !hasLog) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
  return handle;
}

/** A private MinIO (the common case for fault injection: "the S3 provider went away"). */
export function startPrivateMinio(options: PrivateServerOptions = {}): Promise<PrivateServer> {
  return startPrivateServer('minio', options);
}
