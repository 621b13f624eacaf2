/**
 * `movingdata tokens` and `movingdata audit` as a user runs them: a real process on an
 * embedded store, checked by exit code and output.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteStore } from '../../src/metadata/pglite/pglite-store.ts';
import { sqlAuditTamperer } from '../../src/metadata/sql/testing.ts';
import { BIN, run, type Run } from '../run.ts';

let dataDir: string;

function cli(...args: string[]): Promise<Run> {
  return run(process.execPath, [BIN, ...args], { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', MOVINGDATA_DATA_DIR: dataDir });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'movingdata-cli-audit-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('movingdata tokens and audit', () => {
  it('issues a token once, lists without secrets, revokes, and records each change as the command-line user', async () => {
    const created = await cli('tokens', 'create', '--name', 'ci', '--roles', 'analytics,operations');
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^mdt_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown only this once');

    const duplicate = await cli('tokens', 'create', '--name', 'ci', '--roles', 'analytics');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('already exists');
    expect(duplicate.stderr).not.toMatch(/\n\s+at /);
    expect((await cli('tokens', 'create', '--name', 'x')).code).toBe(2);

    const listed = await cli('tokens', 'list', '--json');
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([{ name: 'ci', roles: ['analytics', 'operations'], created_at: expect.any(String) as string, last_used_at: null, revoked_at: null }]);
    expect(listed.stdout).not.toContain(token);

    expect((await cli('tokens', 'revoke', 'ci')).code).toBe(0);
    expect((await cli('tokens', 'revoke', 'nobody')).code).toBe(1);
  });

  it('verifies an intact trail with exit 0, exports it as JSON lines, and exits 1 naming the first problem once tampered with', async () => {
    const intact = await cli('audit', 'verify');
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^audit trail intact: 2 entries; head seq 2 hash [0-9a-f]{64}\n$/);

    const exported = await cli('audit', 'export');
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; action: string; principal: string });
    expect(lines.map((l) => [l.seq, l.action])).toEqual([
      [1, 'token_create'],
      [2, 'token_revoke'],
      [3, 'audit_export'],
    ]);
    expect(lines[0]?.principal).toMatch(/^cli:/);

    // Someone with the database's rights deletes the record of the revocation.
    const store = await openPgliteStore({ dir: join(dataDir, 'metadata') });
    try {
      await sqlAuditTamperer.remove(store, 2);
    } finally {
      await store.close();
    }
    const broken = await cli('audit', 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('audit trail broken at seq 2 (deleted_or_inserted)');
    expect(broken.stderr).not.toMatch(/\n\s+at /);
    const json = await cli('audit', 'verify', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, entries: 1, head: { seq: 1 }, problem: { seq: 2, kind: 'deleted_or_inserted' } });

    expect((await cli('audit', 'frobnicate')).code).toBe(2);
    expect((await cli('audit', 'export', '--after-seq', '-3')).code).toBe(2);
  });
});
