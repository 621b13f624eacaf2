/**
 * `movingdata serve`: the control plane. Configuration comes from the environment (see the
 * README's table); a bad value stops start-up with a message naming the variable.
 */
import { parseArgs } from 'node:util';
import { createApp } from '../../app.ts';
import { demoBanner } from '../../demo/admin-token.ts';
import { recordRunningServer } from '../running-server.ts';
import { loadConfig } from '../../config/config.ts';

const HELP = `usage: movingdata serve [--demo] [--port N] [--host ADDR]

Starts the API, its worker and the dashboard (at /). With no environment at all it runs on
embedded defaults: PGlite metadata and three local-disk locations (aws, azure, gcp) under
MOVINGDATA_DATA_DIR (default ./.movingdata). Set the lab's variables to use real servers.

Outside demo mode every location needs its key (S3_ENCRYPTION_KEY, AZURE_ENCRYPTION_KEY,
GCS_ENCRYPTION_KEY) and API tokens come from 'movingdata tokens create'.

options:
  --demo        demo mode: generate missing keys under the data directory (announced),
                and accept MOVINGDATA_ADMIN_TOKEN as an admin token (= MOVINGDATA_DEMO=1)
  --port N      listen on port N (default: PORT or 8001)
  --host ADDR   listen on ADDR (default: MOVINGDATA_HOST or 127.0.0.1)
  -h, --help    show this help`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string' }, demo: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const env = {
    ...process.env,
    ...(values.port === undefined ? {} : { PORT: values.port }),
    ...(values.host === undefined ? {} : { MOVINGDATA_HOST: values.host }),
    // The seed's background traffic is on in demo mode (`npm start`) unless switched off.
    ...(values.demo === true ? { MOVINGDATA_DEMO: '1', ENABLE_SYNTHETIC_LOAD: process.env['ENABLE_SYNTHETIC_LOAD'] ?? '1' } : {}),
  };
  const config = loadConfig(env);
  const app = await createApp(config);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.api.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.api.log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdownTimeoutMs);
    force.unref();
    app.close().then(
      () => app.api.log.info('stopped'),
      (err: unknown) => {
        app.api.log.error({ err }, 'error while shutting down');
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const address = await app.listen();
  const forget = await recordRunningServer(config.dataDir, address);
  app.api.log.info({ address, metadata: config.metadata.kind, locations: config.locations.map((l) => `${l.name}=${l.store.provider}`), demo: config.demo }, `MovingData listening on ${address} (dashboard at ${address}/, API docs at ${address}/docs)`);
  // For the person at the terminal, beside the JSON log lines on stdout.
  if (app.demoAdmin !== undefined) process.stderr.write(`${demoBanner(address, app.demoAdmin.token, app.demoAdmin.path)}\n`);
  // Keep running until a signal closes the server.
  await new Promise<void>((resolve) => app.api.server.once('close', resolve));
  await forget();
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}
