/**
 * Demo mode's admin token, for a user who has just typed `npm start`: without
 * MOVINGDATA_ADMIN_TOKEN, the server generates one on its first start, keeps it under the data
 * directory (`demo-admin-token`, mode 600, like the demo keys beside it) and prints it with a
 * ready-to-paste curl line, the way Jupyter prints its login URL. Later starts reuse it, so a
 * token pasted into a script keeps working. `movingdata tokens` reads it to reach a running
 * server (src/cli/running-server.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateToken, isWellFormedToken } from '../access/tokens.ts';

export const DEMO_TOKEN_FILE = 'demo-admin-token';

export function demoTokenPath(dataDir: string): string {
  return join(dataDir, DEMO_TOKEN_FILE);
}

/** The token kept under `dataDir`, or undefined when there is none (or it is not a token). */
export async function readDemoToken(dataDir: string): Promise<string | undefined> {
  const text = await readFile(demoTokenPath(dataDir), 'utf8').catch(() => undefined);
  const token = text?.trim();
  return token !== undefined && isWellFormedToken(token) ? token : undefined;
}

/** The kept token, made (and kept, mode 600) on first use; `created` says which. */
export async function demoToken(dataDir: string): Promise<{ readonly token: string; readonly created: boolean }> {
  const existing = await readDemoToken(dataDir);
  if (existing !== undefined) return { token: existing, created: false };
  await mkdir(dataDir, { recursive: true });
  const token = generateToken();
  try {
    await writeFile(demoTokenPath(dataDir), `${token}\n`, { mode: 0o600, flag: 'wx' });
    return { token, created: true };
  } catch (err) {
    // Another process starting over the same directory wrote it first: take its token.
    const theirs = (err as NodeJS.ErrnoException).code === 'EEXIST' ? await readDemoToken(dataDir) : undefined;
    if (theirs === undefined) throw err;
    return { token: theirs, created: false };
  }
}

/** What `npm start` prints once it listens: the dashboard's sign-in link, the token and the seed's first curl line with it. */
export function demoBanner(address: string, token: string, path: string): string {
  return [
    '',
    `  MovingData is running in demo mode at ${address} (API docs: ${address}/docs)`,
    '',
    `  Dashboard (this link signs you in): ${address}/?token=${token}`,
    '',
    `  Admin token (kept in ${path}):`,
    '',
    `    export MOVINGDATA_TOKEN=${token}`,
    `    curl -X POST -H "Authorization: Bearer $MOVINGDATA_TOKEN" ${address}/seed`,
    '',
  ].join('\n');
}
