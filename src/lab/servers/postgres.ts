/**
 * PostgreSQL (Debian's), the lab's metadata database: a throwaway cluster made with
 * `initdb -A trust -U postgres`, run by `pg_ctl` on 127.0.0.1, with a `movingdata` database.
 *
 * initdb refuses to run as root, so as root every Postgres tool runs as the `postgres` OS user
 * (runuser) on a directory that user can reach. The server log still lands where the caller
 * asked (the shared lab's run/postgres/server.log): pg_ctl runs without -l, so the postmaster
 * inherits an output descriptor we opened, whoever owns the file.
 */
import { chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { isRoot } from '../paths.ts';
import {
  LAB_HOST,
  isOurProcess,
  rotateLog,
  serverError,
  terminate,
  type LabContext,
  type LabServer,
  type Placement,
} from '../server.ts';
import { findPostgresTool, runCaptured, runLogged, which } from '../system.ts';

export const POSTGRES_PORT = 5432;
export const POSTGRES_DATABASE = 'movingdata';
const POSTGRES_OS_USER = 'postgres';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** How to run a Postgres tool: directly, or as the `postgres` user when we are root. */
async function toolCommand(tool: string, args: string[]): Promise<[string, string[]]> {
  const path = await findPostgresTool(tool);
  if (!path) {
    throw new Error(`${tool} not found on PATH or under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)`);
  }
  if (!isRoot()) return [path, args];
  const runuser = await which('runuser');
  if (!runuser) throw new Error('running as root needs runuser (util-linux) to start Postgres as the postgres user');
  return [runuser, ['-u', POSTGRES_OS_USER, '--', path, ...args]];
}

async function osUserIds(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await runCaptured('id', ['-u', user], { timeoutMs: 5_000 })).trim());
  const gid = Number((await runCaptured('id', ['-g', user], { timeoutMs: 5_000 })).trim());
  return { uid, gid };
}

/**
 * @param at.dir the cluster's home (data/ and the unix socket); as root it must be reachable by
 *   the postgres OS user, so not under /root.
 * @param logPath where the server log goes; defaults to <dir>/server.log.
 */
export function postgresServer(_ctx: LabContext, at: Placement, logPath = join(at.dir, 'server.log')): LabServer {
  const dataDir = join(at.dir, 'data');
  const self = { name: 'postgres' as const, logPath };
  const adminUrl = `postgres://postgres@${LAB_HOST}:${at.port}/postgres`;
  const databaseUrl = `postgres://postgres@${LAB_HOST}:${at.port}/${POSTGRES_DATABASE}`;

  const run = async (tool: string, args: string[], timeoutMs: number) => {
    const [command, argv] = await toolCommand(tool, args);
    // cwd inside the cluster home: the postgres user cannot enter a root-only working directory.
    return runLogged(command, argv, { logPath, cwd: at.dir, timeoutMs });
  };

  const pid = async (): Promise<number | undefined> => {
    const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 && (await isOurProcess(pid, dataDir)) ? pid : undefined;
  };

  return {
    name: 'postgres',
    port: at.port,
    ports: [at.port],
    dir: at.dir,
    logPath,
    startTimeoutMs: 90_000,
    // Debian's package is installed by `lab install` with the other system packages.
    installed: async () => (await findPostgresTool('initdb')) !== undefined && (await findPostgresTool('pg_ctl')) !== undefined,
    async install() {},
    async start() {
      await mkdir(dirname(logPath), { recursive: true });
      await rotateLog(logPath);
      await writeFile(logPath, `\n--- ${new Date().toISOString()} starting postgres in ${dataDir}\n`, { flag: 'a' });
      await mkdir(at.dir, { recursive: true, mode: 0o700 });
      if (isRoot()) {
        const { uid, gid } = await osUserIds(POSTGRES_OS_USER);
        await chown(at.dir, uid, gid);
      }
      if (!(await exists(join(dataDir, 'PG_VERSION')))) {
        const init = await run(
          'initdb',
          ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
          60_000,
        );
        if (init.code !== 0) throw await serverError(self, `initdb -D ${dataDir} failed`, { code: 'config_invalid' });
      }
      const options = `-c listen_addresses=${LAB_HOST} -c port=${at.port} -c unix_socket_directories=${at.dir}`;
      // -w waits until the server accepts connections (bounded by -t); the postmaster detaches itself.
      const started = await run('pg_ctl', ['-D', dataDir, '-o', options, '-w', '-t', '60', 'start'], 75_000);
      if (started.code !== 0) throw await serverError(self, `pg_ctl start failed for ${dataDir}`);
    },
    /** Ready when DATABASE_URL answers a query; creates the `movingdata` database if missing. */
    async ready() {
      const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000, query_timeout: 5_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        const found = await client.query('select 1 from pg_database where datname = $1', [POSTGRES_DATABASE]);
        if (found.rowCount === 0) {
          await client.query(`create database ${POSTGRES_DATABASE}`).catch((err: unknown) => {
            // Another process created it first: fine.
            if ((err as { code?: string }).code !== '42P04') throw err;
          });
        }
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    async stop() {
      const running = await pid();
      if (running === undefined) return;
      await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop'], 45_000);
      // If pg_ctl could not stop it, SIGINT is Postgres's "fast shutdown"; then SIGKILL.
      if ((await pid()) !== undefined) await terminate(running, { sig: 'SIGINT', group: false, graceMs: 10_000 });
    },
    pid,
    env: () => ({ DATABASE_URL: databaseUrl }),
  };
}
