/**
 * One process per PGlite directory. PGlite runs PostgreSQL in-process without the postmaster's
 * own lock, so two processes (or two opens in one process) on the same directory would both
 * write it and corrupt it silently. A lock file created with O_EXCL records the owner's pid; a
 * lock left by a process that no longer exists (kill -9, power loss) is taken over.
 *
 * Known limit: two processes taking over the same stale lock at the same instant can both
 * succeed; that needs a crash followed by two simultaneous starts on one directory.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MovingDataError } from '../../errors.ts';

const LOCK_FILE = 'movingdata.lock';

interface LockOwner {
  readonly pid: number;
  readonly host: string;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    return typeof value.pid === 'number' && typeof value.host === 'string' ? { pid: value.pid, host: value.host } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the directory's lock; resolves to its release function. `conflict` if it is held. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(mine);
      } finally {
        await handle.close();
      }
      return async () => {
        // Only remove the lock if it is still ours.
        const text = await readFile(path, 'utf8').catch(() => undefined);
        if (text === mine) await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new MovingDataError('unavailable', `cannot lock metadata directory ${dir}: ${(err as Error).message}`, { retryable: false, cause: err });
      }
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const owner = parseOwner(text);
    const stale = owner === undefined ? text === '' : owner.host === hostname() && owner.pid !== process.pid && !isAlive(owner.pid);
    if (!stale) {
      const who = owner === undefined ? 'another process' : owner.pid === process.pid ? 'this process' : `pid ${owner.pid} on ${owner.host}`;
      throw new MovingDataError('conflict', `metadata directory ${dir} is already open by ${who} (embedded PGlite allows one process per directory; use PostgreSQL to share)`, {
        retryable: false,
        details: { dir, lockFile: path },
      });
    }
    await unlink(path).catch(() => undefined);
  }
  throw new MovingDataError('conflict', `could not take the lock on metadata directory ${dir}`, { retryable: true, details: { dir } });
}
