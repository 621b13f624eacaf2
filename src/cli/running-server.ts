/**
 * Where a running `movingdata serve` can be reached, for the CLI commands that would otherwise
 * open the metadata store: the embedded store (PGlite) admits one process, so while a server
 * holds it, `movingdata tokens` goes through that server's API instead. The server records its
 * address and pid in `<dataDir>/server.json` (mode 600) once it listens and removes the file
 * when it stops; a file left by a killed server names a pid that no longer runs and is ignored.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SERVER_FILE = 'server.json';

export interface RunningServer {
  readonly url: string;
  readonly pid: number;
}

export async function recordRunningServer(dataDir: string, url: string): Promise<() => Promise<void>> {
  const path = join(dataDir, SERVER_FILE);
  await writeFile(path, `${JSON.stringify({ url, pid: process.pid })}\n`, { mode: 0o600 });
  return async () => {
    // Only our own record: a second server over the same directory may have written its own.
    const current = await runningServer(dataDir);
    if (current?.pid === process.pid) await rm(path, { force: true });
  };
}

/** The server recorded under `dataDir`, when its process is still alive. */
export async function runningServer(dataDir: string): Promise<RunningServer | undefined> {
  const text = await readFile(join(dataDir, SERVER_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return undefined;
  }
  const { url, pid } = (record ?? {}) as { url?: unknown; pid?: unknown };
  if (typeof url !== 'string' || typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, someone else's; ESRCH: gone.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return { url, pid };
}
