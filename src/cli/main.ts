/**
 * `movingdata` command line, started by bin/movingdata.js (which turns the compile cache on
 * first). Each verb lives in src/cli/commands/<verb>.ts and exports
 * `run(args): Promise<number>` (the exit code). Exit codes: 0 ok, 1 operation failed,
 * 2 usage or configuration error.
 */
import { isMovingDataError } from '../errors.ts';

type Command = { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  serve: { summary: 'start the control plane (API, workers, dashboard)', load: () => import('./commands/serve.ts') },
  lab: { summary: 'install, start and stop the local lab of real servers', load: () => import('./commands/lab.ts') },
  tokens: { summary: 'issue, list and revoke API tokens', load: () => import('./commands/tokens.ts') },
  audit: { summary: 'verify and export the tamper-evident audit trail', load: () => import('./commands/audit.ts') },
  worker: { summary: 'run background jobs (replication, repair, moves) from the shared queue', load: () => import('./commands/worker.ts') },
  tier: { summary: 'generate access traces and compare tiering policies with the offline optimum', load: () => import('./commands/tier.ts') },
};

function usage(): string {
  const verbs = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
    .join('\n');
  return `usage: movingdata <command> [options]\n\ncommands:\n${verbs}\n\nRun 'movingdata <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    console.log(usage());
    return verb === undefined ? 2 : 0;
  }
  const command = COMMANDS[verb];
  if (!command) {
    console.error(`movingdata: unknown command '${verb}'\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A user sees a message and an exit code, never a stack trace (set MOVINGDATA_DEBUG=1 for one).
    if (isMovingDataError(err)) {
      console.error(`movingdata: ${err.message}`);
      process.exitCode = err.code === 'config_invalid' || err.code === 'invalid_argument' ? 2 : 1;
    } else {
      console.error(`movingdata: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
    if (process.env['MOVINGDATA_DEBUG']) console.error(err);
  },
);
