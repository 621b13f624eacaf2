import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataStore } from '../metadata/index.ts';
import { openPgliteStore } from '../metadata/pglite/pglite-store.ts';
import { authenticate, ensureDemoAdmin } from './principals.ts';
import { generateToken, hashToken } from './tokens.ts';

let store: MetadataStore;
beforeAll(async () => {
  store = await openPgliteStore({ inMemory: true });
});
afterAll(async () => store?.close());

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string; details?: Record<string, unknown> },
  );
  if (err === undefined) throw new Error('expected a failure');
  return err;
}

describe('authenticate', () => {
  it('finds the live principal for a bearer token and notes its use', async () => {
    const token = generateToken();
    await store.principals.create({ name: 'analyst', roles: ['analytics'], tokenHash: hashToken(token) });
    const principal = await authenticate(store, `Bearer ${token}`);
    expect(principal).toMatchObject({ name: 'analyst', roles: ['analytics'] });
    expect((await authenticate(store, `bearer   ${token}`)).name).toBe('analyst');
    expect((await store.principals.findByName('analyst'))?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses a missing or malformed header, and an unknown or revoked token with one message', async () => {
    const missing = await failure(authenticate(store, undefined));
    expect(missing).toMatchObject({ code: 'unauthenticated', details: { reason: 'missing' } });
    expect(await failure(authenticate(store, ''))).toMatchObject({ code: 'unauthenticated', details: { reason: 'missing' } });
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer short', `Bearer ${generateToken()} extra`, `Token ${generateToken()}`]) {
      expect(await failure(authenticate(store, header))).toMatchObject({ code: 'unauthenticated', details: { reason: 'malformed' } });
    }

    const token = generateToken();
    await store.principals.create({ name: 'leaver', roles: ['operations'], tokenHash: hashToken(token) });
    await store.principals.revoke('leaver');
    const revoked = await failure(authenticate(store, `Bearer ${token}`));
    const unknown = await failure(authenticate(store, `Bearer ${generateToken()}`));
    expect(revoked).toMatchObject({ code: 'unauthenticated', details: { reason: 'invalid' } });
    expect(unknown).toEqual(revoked);
    expect(unknown.message).toBe(revoked.message);
  });
});

describe('the demo admin', () => {
  it('is created with roles admin and system, kept, re-keyed and reinstated to match the configured token', async () => {
    const first = 'demo-admin-token-0001';
    const created = await ensureDemoAdmin(store, first);
    expect(created.action).toBe('created');
    expect(created.principal).toMatchObject({ name: 'admin', roles: ['admin', 'system'], revokedAt: null });
    expect((await authenticate(store, `Bearer ${first}`)).name).toBe('admin');

    expect((await ensureDemoAdmin(store, first)).action).toBe('unchanged');

    const second = 'demo-admin-token-0002';
    expect((await ensureDemoAdmin(store, second)).action).toBe('updated');
    expect(await failure(authenticate(store, `Bearer ${first}`))).toMatchObject({ code: 'unauthenticated' });
    expect((await authenticate(store, `Bearer ${second}`)).name).toBe('admin');

    await store.principals.update('admin', { roles: ['analytics'] });
    await store.principals.revoke('admin');
    const restored = await ensureDemoAdmin(store, second);
    expect(restored.action).toBe('updated');
    expect(restored.principal).toMatchObject({ roles: ['admin', 'system'], revokedAt: null });
    expect((await store.principals.list()).filter((p) => p.name === 'admin')).toHaveLength(1);
  });

  it('refuses a token too weak to be stored with a fast hash, and one issued to someone else', async () => {
    expect(await failure(ensureDemoAdmin(store, 'admin'))).toMatchObject({ code: 'invalid_argument' });
    expect(await failure(ensureDemoAdmin(store, 'has spaces but is long enough'))).toMatchObject({ code: 'invalid_argument' });
    const taken = generateToken();
    await store.principals.create({ name: 'someone', roles: ['analytics'], tokenHash: hashToken(taken) });
    expect(await failure(ensureDemoAdmin(store, taken))).toMatchObject({ code: 'conflict' });
  });
});
