/**
 * `movingdata worker`: a process that runs background jobs from the queue in the metadata
 * store. Start as many as the work needs; they share it through PostgreSQL row locks.
 * Exit codes: 0 stopped cleanly, 1 jobs were abandoned on stop, 2 usage or configuration error.
 */
import { EventService } from '../../events/service.ts';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LOG_LEVELS, loadConfig, type LogLevel } from '../../config/config.ts';
import type { JobHandlerModule } from '../../jobs/handlers.ts';
import { DEFAULT_WORKER, createWorker, workerSettings, type JobLogger } from '../../jobs/worker.ts';
import { openMetadataStore } from '../../metadata/index.ts';

const HELP = `usage: movingdata worker [--concurrency N] [--kinds a,b] [--lease-ms N] [--poll-ms N]
                         [--id NAME] [--handlers MODULE]

Runs background jobs (replication, repair, moves, ...) from the job queue in the metadata
store. Against PostgreSQL (DATABASE_URL) start as many worker processes as you like, on any
hosts: they share the work through row locks, and the jobs of a worker that dies are taken
over by the others once their lease runs out. The embedded store (PGlite, no DATABASE_URL)
admits one process per data directory, so there the worker cannot run beside 'serve'.

It also runs the event side's relay and consumers (outbox to the bus, access statistics,
telemetry scoring and alerts); more processes share the bus's partitions. MOVINGDATA_CONSUMERS=0
leaves them to other processes.

SIGINT or SIGTERM stops claiming, lets running jobs finish for up to
MOVINGDATA_SHUTDOWN_TIMEOUT_MS, then hands the rest back to the queue; a second signal exits
at once (the lease then brings those jobs back). Logs are JSON lines on stdout
(MOVINGDATA_LOG_LEVEL).

options:
  --concurrency N    jobs run at once (default ${DEFAULT_WORKER.concurrency})
  --kinds a,b        only these job kinds (default: every kind with a handler)
  --lease-ms N       lease per claimed job, renewed every third of it (default ${DEFAULT_WORKER.leaseMs})
  --poll-ms N        pause between claims while the queue is empty (default ${DEFAULT_WORKER.pollMs})
  --id NAME          worker id recorded on the jobs it runs (default host:pid:random)
  --handlers MODULE  load the handler registry from MODULE, which exports
                     defaultHandlers(context) (default: the built-in src/jobs/handlers.ts)
  -h, --help         show this help`;

function usageError(message: string): number {
  console.error(`movingdata worker: ${message}\n\n${HELP}`);
  return 2;
}

/** JSON lines on stdout at or above `level`, shaped like pino's so the same tools read both. */
function jsonLineLogger(level: LogLevel): JobLogger {
  const rank = (l: LogLevel): number => LOG_LEVELS.length - LOG_LEVELS.indexOf(l);
  const threshold = level === 'silent' ? Infinity : rank(level);
  const write = (l: LogLevel, fields: Record<string, unknown>, message: string): void => {
    if (rank(l) < threshold) return;
    process.stdout.write(`${JSON.stringify({ level: l, time: Date.now(), pid: process.pid, ...fields, msg: message })}\n`);
  };
  return {
    debug: (f, m) => write('debug', f, m),
    info: (f, m) => write('info', f, m),
    warn: (f, m) => write('warn', f, m),
    error: (f, m) => write('error', f, m),
  };
}

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new RangeError(`--${name} takes a positive integer, got '${value}'`);
  return Number(value);
}

export async function run(args: string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args,
      options: {
        concurrency: { type: 'string' },
        kinds: { type: 'string' },
        'lease-ms': { type: 'string' },
        'poll-ms': { type: 'string' },
        id: { type: 'string' },
        handlers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help === true) {
      console.log(HELP);
      return 0;
    }
    const kinds = values.kinds?.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
    if (kinds !== undefined && kinds.length === 0) throw new RangeError('--kinds takes a comma-separated list of job kinds');
    options = {
      concurrency: positiveInteger(values.concurrency, 'concurrency'),
      leaseMs: positiveInteger(values['lease-ms'], 'lease-ms'),
      pollMs: positiveInteger(values['poll-ms'], 'poll-ms'),
      kinds,
      id: values.id,
      handlers: values.handlers,
    };
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }

  const config = loadConfig(process.env);
  const log = jsonLineLogger(config.server.logLevel);
  const metadata = await openMetadataStore(config.metadata);
  const closers: Array<() => Promise<void>> = [];
  try {
    const module = (await import(options.handlers === undefined ? '../../jobs/handlers.ts' : pathToFileURL(resolve(options.handlers)).href)) as Partial<JobHandlerModule>;
    if (typeof module.defaultHandlers !== 'function') return usageError(`${options.handlers ?? 'the handler module'} does not export defaultHandlers(context)`);
    const handlers = await module.defaultHandlers({ config, metadata, log, onClose: (close) => closers.push(close) });
    const worker = createWorker({
      metadata,
      handlers,
      log,
      ...workerSettings(config.engine),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.kinds === undefined ? {} : { kinds: options.kinds }),
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    });

    if (config.events.consumers) {
      const events = new EventService({ config, metadata, log, consumers: true });
      await events.start();
      closers.push(() => events.stop());
    }

    const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
      const onSignal = (received: NodeJS.Signals): void => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolveSignal(received);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      worker.start();
      log.info(
        { workerId: worker.id, kinds: worker.kinds, concurrency: worker.concurrency, leaseMs: worker.leaseMs, metadata: metadata.kind },
        `worker ${worker.id} started`,
      );
    });
    // A second signal while draining: the operator wants out now; leases bring the jobs back.
    const impatient = (): never => process.exit(130);
    process.once('SIGINT', impatient);
    process.once('SIGTERM', impatient);
    log.info({ signal }, 'stopping');
    const report = await worker.stop({ graceMs: config.server.shutdownTimeoutMs });
    process.off('SIGINT', impatient);
    process.off('SIGTERM', impatient);
    if (report.abandoned > 0) {
      // Abandoned handlers may hold the event loop open forever; their leases are already
      // left to run out, so nothing is lost by leaving without them.
      setTimeout(() => process.exit(1), 1000).unref();
      return 1;
    }
    return 0;
  } finally {
    await Promise.allSettled(closers.map((close) => close()));
    await metadata.close();
  }
}
