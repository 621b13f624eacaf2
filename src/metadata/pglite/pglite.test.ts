import { PGlite } from '@electric-sql/pglite';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { runMetadataConformance } from '../conformance/suite.ts';
import { sqlAuditTamperer } from '../sql/testing.ts';
import { rawDatabaseOf } from '../sql/store.ts';
import { openMetadataStore } from '../index.ts';
import { openPgliteStore } from './pglite-store.ts';

// initdb in WASM takes seconds; run it once and copy the empty cluster for each fresh store
// (migrations still run on every copy: it holds no tables).
const scratch = mkdtemp(join(tmpdir(), 'md-pglite-'));
let emptyCluster: Promise<string> | undefined;
function template(): Promise<string> {
  emptyCluster ??= scratch.then(async (root) => {
    const pglite = new PGlite(join(root, 'template'));
    await pglite.close();
    return join(root, 'template');
  });
  return emptyCluster;
}
afterAll(async () => rm(await scratch, { recursive: true, force: true }));

runMetadataConformance({
  name: 'pglite',
  auditTamperer: sqlAuditTamperer,
  async fresh() {
    const dir = await mkdtemp(join(await scratch, 'store-'));
    await cp(await template(), dir, { recursive: true });
    return { open: () => openPgliteStore({ dir }), destroy: () => rm(dir, { recursive: true, force: true }) };
  },
});

describe('pglite adapter', () => {
  it('refuses a second open of the same directory, and takes over a dead owner’s lock', async () => {
    const dir = await mkdtemp(join(await scratch, 'lock-'));
    const store = await openPgliteStore({ dir });
    await expect(openPgliteStore({ dir })).rejects.toMatchObject({ code: 'conflict' });
    await store.close();
    // A lock left by a process that no longer exists (kill -9) does not block a restart.
    await writeFile(join(dir, 'movingdata.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }));
    const again = await openPgliteStore({ dir });
    await again.close();
  });

  it('initialises a new directory (initdb in a child process), then opens and keeps it', async () => {
    const dir = await mkdtemp(join(await scratch, 'fresh-'));
    const store = await openPgliteStore({ dir });
    await store.ensureFile({ key: 'first' });
    await store.close();
    expect((await readFile(join(dir, 'PG_VERSION'), 'utf8')).trim()).toMatch(/^\d+$/);
    const again = await openPgliteStore({ dir });
    try {
      expect((await again.findFileByKey('first'))?.key).toBe('first');
    } finally {
      await again.close();
    }
  });

  it('reports a directory initdb cannot use as unavailable, with initdb’s one-line reason', async () => {
    const dir = await mkdtemp(join(await scratch, 'unusable-'));
    // A file where initdb must create a directory.
    await writeFile(join(dir, 'global'), 'not a directory');
    const failure = openPgliteStore({ dir });
    await expect(failure).rejects.toMatchObject({ code: 'unavailable' });
    await expect(failure).rejects.toThrow(/initdb exited with 1: \S/);
    await expect(failure).rejects.not.toThrow(/\n\s+at /);
    // Nothing is left locked: once the directory is usable, it opens.
    await rm(join(dir, 'global'));
    const store = await openPgliteStore({ dir });
    await store.close();
  });

  it('runs PostgreSQL with a 16MB buffer cache, not the 128MB default that would sit in WASM memory', async () => {
    const dir = await mkdtemp(join(await scratch, 'conf-'));
    await cp(await template(), dir, { recursive: true });
    const store = await openPgliteStore({ dir });
    try {
      const result = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(rawDatabaseOf(store)!);
      expect(result.rows[0]?.shared_buffers).toBe('16MB');
    } finally {
      await store.close();
    }
  });

  it('keeps committed data, and reopens, after its process is killed with SIGKILL', async () => {
    const dir = await mkdtemp(join(await scratch, 'kill-'));
    const storeModule = new URL('./pglite-store.ts', import.meta.url).href;
    const child = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `const { openPgliteStore } = await import(${JSON.stringify(storeModule)});
       const store = await openPgliteStore({ dir: ${JSON.stringify(dir)} });
       await store.ensureFile({ key: 'survivor' });
       process.kill(process.pid, 'SIGKILL');`,
    ]);
    const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');
    const store = await openPgliteStore({ dir });
    expect((await store.findFileByKey('survivor'))?.key).toBe('survivor');
    await store.close();
  });

  it('is what openMetadataStore opens for kind pglite', async () => {
    const store = await openMetadataStore({ kind: 'pglite', dir: await mkdtemp(join(await scratch, 'factory-')) });
    expect([store.kind, store.features.multiProcess]).toEqual(['pglite', false]);
    await store.close();
  });

  it('runs in memory for unit tests', async () => {
    const store = await openPgliteStore({ inMemory: true });
    const { file } = await store.ensureFile({ key: 'm' });
    expect((await store.getFile(file.id)).key).toBe('m');
    await store.close();
  });
});
