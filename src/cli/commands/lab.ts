/**
 * `movingdata lab <install|up|down|status|env>`: the local lab of real servers. Progress goes to
 * stderr, so stdout carries only what a script consumes (the env of `up` and `env`).
 */
import { isMovingDataError } from '../../errors.ts';
import {
  SERVER_NAMES,
  installLab,
  labEnv,
  labPaths,
  labStatus,
  startLab,
  stopLab,
  type ServerStatus,
} from '../../lab/index.ts';

const USAGE = `usage: movingdata lab <command> [server...]

Real servers as local processes on 127.0.0.1, installed into a cache
($MOVINGDATA_LAB_HOME, default ~/.cache/movingdata/lab) and left running.

commands:
  install            install what is missing (Debian packages, MinIO and fake-gcs-server
                     built with Go, Kafka jars from Maven Central); cached and idempotent
  up [server...]     install what is missing, start the servers (default: all), wait until
                     each answers, print the env and write it to <lab home>/lab.env
  down [server...]   stop the servers (default: all)
  status             each server: running/ready, pid, port, log (exit 1 unless all are ready)
  env                print the settings as shell exports:  eval "$(npm run -s lab -- env)"

servers: ${SERVER_NAMES.join(', ')}`;

const progress = (message: string): void => {
  console.error(`lab: ${message}`);
};

/** `export KEY='value'` with the value single-quoted for sh. */
function shellExport(key: string, value: string): string {
  return `export ${key}='${value.replaceAll("'", `'\\''`)}'`;
}

function printEnv(env: Record<string, string>): void {
  for (const [key, value] of Object.entries(env)) console.log(shellExport(key, value));
}

function formatStatus(rows: readonly ServerStatus[]): string {
  const table = [
    ['server', 'state', 'pid', 'port', 'log'],
    ...rows.map((r) => [
      r.name,
      r.running ? (r.ready ? 'ready' : 'running, not answering') : 'stopped',
      r.pid === undefined ? '-' : String(r.pid),
      r.ports.join(','),
      r.logPath,
    ]),
  ];
  const widths = table[0]?.map((_, col) => Math.max(...table.map((row) => (row[col] ?? '').length))) ?? [];
  return table.map((row) => row.map((cell, col) => cell.padEnd(widths[col] ?? 0)).join('  ').trimEnd()).join('\n');
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  try {
    switch (sub) {
      case 'install': {
        const started = Date.now();
        await installLab({ log: progress });
        progress(`installed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return 0;
      }
      case 'up': {
        const started = Date.now();
        const result = await startLab(rest, { log: progress });
        const reused = result.reused.length > 0 ? `; already running: ${result.reused.join(', ')}` : '';
        progress(
          `up in ${((Date.now() - started) / 1000).toFixed(1)} s; started: ${result.started.join(', ') || 'none'}${reused}`,
        );
        progress(`env written to ${labPaths().envFile}`);
        printEnv(result.env);
        return 0;
      }
      case 'down': {
        const stopped = await stopLab(rest, { log: progress });
        progress(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
        return 0;
      }
      case 'status': {
        const rows = await labStatus();
        console.log(formatStatus(rows));
        return rows.every((r) => r.ready) ? 0 : 1;
      }
      case 'env':
        printEnv(await labEnv());
        return 0;
      default:
        console.error(`movingdata lab: unknown command '${sub}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    // A clear message and an exit code; a stack trace only on request.
    const message = err instanceof Error ? err.message : String(err);
    console.error(`movingdata lab ${sub}: ${message}`);
    if (process.env['MOVINGDATA_DEBUG']) console.error(err);
    return isMovingDataError(err) && (err.code === 'invalid_argument') ? 2 : 1;
  }
}
