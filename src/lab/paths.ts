/**
 * Where the lab keeps what it installs and runs. Nothing lands in the repository: binaries
 * (MinIO is AGPL), jars, data and logs live under the lab home, which survives between runs so
 * that a second `lab install` only checks stamps.
 *
 *   <home>/bin/                 Go-built servers (minio, fake-gcs-server) + version stamps
 *   <home>/kafka-<version>/lib  Kafka jars copied from Maven Central
 *   <home>/run/<server>/        data, server.log and server.pid of each shared server
 *   <home>/run/private/         directories of private instances started by tests
 *   <home>/python/              venv with pinned `cryptography` and `schemathesis` (LAB_PYTHON), see python.ts
 *   <home>/credentials.json     generated secrets, mode 600, reused forever
 *   <home>/lab.env              KEY=VALUE settings of the shared lab
 */
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAFKA_VERSION = '3.9.1';

/** The repository root (this file is src/lab/paths.ts). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LabPaths {
  readonly home: string;
  readonly bin: string;
  readonly kafkaHome: string;
  readonly kafkaLib: string;
  readonly run: string;
  readonly privateRuns: string;
  readonly credentials: string;
  readonly envFile: string;
  readonly lock: string;
}

export function labHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env['MOVINGDATA_LAB_HOME'];
  return configured ? resolve(configured) : join(homedir(), '.cache', 'movingdata', 'lab');
}

export function labPaths(home: string = labHome()): LabPaths {
  const kafkaHome = join(home, `kafka-${KAFKA_VERSION}`);
  return {
    home,
    bin: join(home, 'bin'),
    kafkaHome,
    kafkaLib: join(kafkaHome, 'lib'),
    run: join(home, 'run'),
    privateRuns: join(home, 'run', 'private'),
    credentials: join(home, 'credentials.json'),
    envFile: join(home, 'lab.env'),
    lock: join(home, 'lab.lock'),
  };
}

export function runDir(paths: LabPaths, server: string): string {
  return join(paths.run, server);
}

/** True when this process runs as root (initdb refuses to, so Postgres runs as `postgres`). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Directory for the shared Postgres cluster. As root it must be reachable by the `postgres` OS
 * user, and a home under /root (mode 700) is not, so it goes to the temp directory; a lab home
 * other than the default gets its own suffix so two homes never share a cluster.
 */
export function postgresHome(paths: LabPaths): string {
  if (!isRoot()) return join(paths.run, 'postgres');
  const suffix =
    paths.home === labHome({}) ? '' : `-${createHash('sha256').update(paths.home).digest('hex').slice(0, 8)}`;
  return join(tmpdir(), `movingdata-lab-postgres${suffix}`);
}
