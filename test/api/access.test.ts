/**
 * Authentication, authorisation and the audit and token routes, on a small Fastify instance
 * built here the way the control plane builds its own: the error handler, the auth plugin,
 * the audit and token routes, and one dummy protected route standing in for the file API.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessPolicy, DEFAULT_ALLOWED_ROLES } from '../../src/access/policy.ts';
import { ensureDemoAdmin } from '../../src/access/principals.ts';
import { generateToken, hashToken } from '../../src/access/tokens.ts';
import { authPlugin, authorizeLocation } from '../../src/api/auth.ts';
import { registerErrorHandling } from '../../src/api/errors.ts';
import { auditRoutes } from '../../src/api/routes/audit.ts';
import { tokenRoutes } from '../../src/api/routes/tokens.ts';
import { AuditTrail } from '../../src/audit/audit-trail.ts';
import { MovingDataError } from '../../src/errors.ts';
import type { AuditLog, MetadataStore } from '../../src/metadata/index.ts';
import { openPgliteStore } from '../../src/metadata/pglite/pglite-store.ts';
import { sqlAuditTamperer } from '../../src/metadata/sql/testing.ts';

interface ErrorBody {
  error: { code: string; message: string; request_id: string; details?: Record<string, unknown> };
}

async function buildApp(store: MetadataStore, audit: AuditTrail): Promise<FastifyInstance> {
  const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  registerErrorHandling(app);
  await app.register(authPlugin, { metadata: store, audit, policy: new AccessPolicy(DEFAULT_ALLOWED_ROLES) });
  await app.register(auditRoutes, { audit });
  await app.register(tokenRoutes, { metadata: store, audit });
  // Stands in for GET /files/{location}/{key}: authorise, record, then (only then) answer.
  app.get<{ Params: { location: string; key: string } }>('/files/:location/:key', { config: { auth: true } }, async (request) => {
    const { location, key } = request.params;
    const principal = await authorizeLocation(request, location, { objectKey: key });
    await audit.read({ principal: principal.name, location, objectKey: key });
    return { location, key, principal: principal.name };
  });
  app.get('/public', async () => ({ ok: true }));
  await app.ready();
  return app;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let store: MetadataStore;
let app: FastifyInstance;
const adminToken = 'demo-admin-token-for-tests';
const analystToken = generateToken();
const operatorToken = generateToken();
const plainAdminToken = generateToken();

beforeAll(async () => {
  store = await openPgliteStore({ inMemory: true });
  app = await buildApp(store, new AuditTrail(store.audit));
  await ensureDemoAdmin(store, adminToken);
  await store.principals.create({ name: 'analyst', roles: ['analytics'], tokenHash: hashToken(analystToken) });
  await store.principals.create({ name: 'operator', roles: ['operations'], tokenHash: hashToken(operatorToken) });
  await store.principals.create({ name: 'plain-admin', roles: ['admin'], tokenHash: hashToken(plainAdminToken) });
});

afterAll(async () => {
  await app?.close();
  await store?.close();
});

async function lastEntry() {
  const head = await store.audit.head();
  const [entry] = await store.audit.list({ afterSeq: (head?.seq ?? 1) - 1, limit: 1 });
  return entry;
}

describe('authentication', () => {
  it('answers a protected route without a token with 401 unauthenticated and a Bearer challenge', async () => {
    const response = await app.inject({ method: 'GET', url: '/files/aws/report.csv' });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="movingdata"');
    const body = response.json<ErrorBody>();
    expect(body.error).toMatchObject({ code: 'unauthenticated', message: expect.stringContaining('Authorization: Bearer') as string });
    expect(response.body).not.toMatch(/\n\s+at /);
  });

  it('answers a malformed header, an unknown token and a revoked token with 401, the last two alike', async () => {
    const malformed = await app.inject({ method: 'GET', url: '/files/aws/r', headers: { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' } });
    expect(malformed.statusCode).toBe(401);
    expect(malformed.headers['www-authenticate']).toBe('Bearer realm="movingdata", error="invalid_request"');

    const unknown = await app.inject({ method: 'GET', url: '/files/aws/r', headers: bearer(generateToken()) });
    const revokedToken = generateToken();
    await store.principals.create({ name: 'gone', roles: ['analytics'], tokenHash: hashToken(revokedToken) });
    await store.principals.revoke('gone');
    const revoked = await app.inject({ method: 'GET', url: '/files/aws/r', headers: bearer(revokedToken) });
    for (const response of [unknown, revoked]) {
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="movingdata", error="invalid_token"');
    }
    expect(revoked.json<ErrorBody>().error.message).toBe(unknown.json<ErrorBody>().error.message);
    expect(revoked.json<ErrorBody>().error.details).toEqual(unknown.json<ErrorBody>().error.details);
  });

  it('leaves routes that did not opt in alone', async () => {
    const response = await app.inject({ method: 'GET', url: '/public' });
    expect(response.statusCode).toBe(200);
    const unknown = await app.inject({ method: 'GET', url: '/no/such/route' });
    expect([unknown.statusCode, unknown.json<ErrorBody>().error.code]).toEqual([404, 'not_found']);
  });
});

describe('authorisation per location', () => {
  it('refuses a valid token without the location’s role with 403 forbidden, and records the denial', async () => {
    const response = await app.inject({ method: 'GET', url: '/files/gcp/secret.csv', headers: bearer(analystToken) });
    expect(response.statusCode).toBe(403);
    expect(response.json<ErrorBody>().error).toMatchObject({ code: 'forbidden', details: { reason: 'role_not_allowed', location: 'gcp' } });
    expect(response.body).not.toContain('secret-content');
    const entry = await lastEntry();
    expect(entry).toMatchObject({
      principal: 'analyst',
      action: 'denied',
      outcome: 'denied',
      location: 'gcp',
      objectKey: 'secret.csv',
      details: { attempted: 'read', reason: 'role_not_allowed', method: 'GET', route: '/files/:location/:key', request_id: response.json<ErrorBody>().error.request_id },
    });
    const unknownLocation = await app.inject({ method: 'GET', url: '/files/moon/x', headers: bearer(adminToken) });
    expect(unknownLocation.statusCode).toBe(403);
    expect((await lastEntry())?.details).toMatchObject({ reason: 'unknown_location' });
  });

  it('lets each role through to its own location and records the access', async () => {
    for (const [token, location, name] of [
      [analystToken, 'aws', 'analyst'],
      [operatorToken, 'azure', 'operator'],
      [adminToken, 'gcp', 'admin'],
    ] as const) {
      const response = await app.inject({ method: 'GET', url: `/files/${location}/report.csv`, headers: bearer(token) });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ location, key: 'report.csv', principal: name });
      expect(await lastEntry()).toMatchObject({ principal: name, action: 'read', outcome: 'allowed', location, objectKey: 'report.csv' });
    }
    expect((await store.principals.findByName('operator'))?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses, with a retryable 503 and still no access, when even the denial cannot be recorded', async () => {
    const broken: AuditLog = {
      ...store.audit,
      append: async () => Promise.reject(new MovingDataError('unavailable', 'database down')),
    };
    const brokenApp = await buildApp(store, new AuditTrail(broken));
    try {
      const denied = await brokenApp.inject({ method: 'GET', url: '/files/gcp/x', headers: bearer(analystToken) });
      expect(denied.statusCode).toBe(503);
      expect(denied.json<ErrorBody>().error.code).toBe('unavailable');
      const allowed = await brokenApp.inject({ method: 'GET', url: '/files/aws/x', headers: bearer(analystToken) });
      expect(allowed.statusCode).toBe(503);
      expect(allowed.json()).not.toHaveProperty('principal');
    } finally {
      await brokenApp.close();
    }
  });
});

describe('token routes', () => {
  it('issues a token to an admin once, lists tokens without secrets, and revokes it, auditing each change', async () => {
    const created = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(adminToken), payload: { name: 'ci-bot', roles: ['analytics', 'operations'] } });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { token, ...rest } = created.json<{ token: string; name: string; roles: string[]; created_at: string }>();
    expect(token).toMatch(/^mdt_[A-Za-z0-9_-]{43}$/);
    expect(rest).toMatchObject({ name: 'ci-bot', roles: ['analytics', 'operations'] });
    expect(await lastEntry()).toMatchObject({ principal: 'admin', action: 'token_create', outcome: 'allowed', details: { name: 'ci-bot', roles: ['analytics', 'operations'] } });

    // Usable at once, within its roles.
    expect((await app.inject({ method: 'GET', url: '/files/azure/x', headers: bearer(token) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/files/gcp/x', headers: bearer(token) })).statusCode).toBe(403);

    const listed = await app.inject({ method: 'GET', url: '/tokens', headers: bearer(adminToken) });
    expect(listed.statusCode).toBe(200);
    const tokens = listed.json<{ tokens: Array<Record<string, unknown>> }>().tokens;
    expect(tokens.map((t) => t['name'])).toEqual(['admin', 'analyst', 'ci-bot', 'gone', 'operator', 'plain-admin']);
    expect(Object.keys(tokens[2] ?? {}).sort()).toEqual(['created_at', 'last_used_at', 'name', 'revoked_at', 'roles']);
    expect(tokens.find((t) => t['name'] === 'gone')?.['revoked_at']).toEqual(expect.any(String));
    expect(listed.body).not.toContain(hashToken(token));
    expect(listed.body).not.toContain(token);

    const duplicate = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(adminToken), payload: { name: 'ci-bot', roles: ['analytics'] } });
    expect([duplicate.statusCode, duplicate.json<ErrorBody>().error.code]).toEqual([409, 'conflict']);

    const revoked = await app.inject({ method: 'DELETE', url: '/tokens/ci-bot', headers: bearer(adminToken) });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json<{ revoked_at: string }>().revoked_at).toEqual(expect.any(String));
    expect(await lastEntry()).toMatchObject({ principal: 'admin', action: 'token_revoke', details: { name: 'ci-bot' } });
    expect((await app.inject({ method: 'GET', url: '/files/azure/x', headers: bearer(token) })).statusCode).toBe(401);
    const again = await app.inject({ method: 'DELETE', url: '/tokens/ci-bot', headers: bearer(adminToken) });
    expect(again.json()).toEqual(revoked.json());

    const missing = await app.inject({ method: 'DELETE', url: '/tokens/nobody', headers: bearer(adminToken) });
    expect([missing.statusCode, missing.json<ErrorBody>().error.code]).toEqual([404, 'not_found']);
  });

  it('validates input with stable codes', async () => {
    for (const payload of [{ name: 'has space', roles: ['analytics'] }, { name: 'ok', roles: [] }, { name: 'ok', roles: ['bad role'] }, { name: 'ok' }]) {
      const response = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(adminToken), payload });
      expect([response.statusCode, response.json<ErrorBody>().error.code]).toEqual([400, 'invalid_argument']);
    }
    const badName = await app.inject({ method: 'DELETE', url: '/tokens/..%2F..', headers: bearer(adminToken) });
    expect([badName.statusCode, badName.json<ErrorBody>().error.code]).toEqual([400, 'invalid_argument']);
  });

  it('keeps token management to admins, and granting system to holders of system', async () => {
    const asAnalyst = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(analystToken), payload: { name: 'sneaky', roles: ['admin'] } });
    expect([asAnalyst.statusCode, asAnalyst.json<ErrorBody>().error.code]).toEqual([403, 'forbidden']);
    expect(await lastEntry()).toMatchObject({ principal: 'analyst', action: 'denied', details: { attempted: 'token_create', reason: 'role_not_allowed' } });
    expect((await app.inject({ method: 'GET', url: '/tokens', headers: bearer(analystToken) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'DELETE', url: '/tokens/admin', headers: bearer(analystToken) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/tokens' })).statusCode).toBe(401);

    const escalation = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(plainAdminToken), payload: { name: 'root', roles: ['system'] } });
    expect(escalation.statusCode).toBe(403);
    expect(escalation.json<ErrorBody>().error.details).toEqual({ reason: 'cannot_grant_system' });
    expect(await store.principals.findByName('root')).toBeUndefined();
    expect(await lastEntry()).toMatchObject({ principal: 'plain-admin', action: 'denied', details: { reason: 'cannot_grant_system' } });
    const bySystem = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(adminToken), payload: { name: 'worker', roles: ['system'] } });
    expect(bySystem.statusCode).toBe(201);
  });

  it('refuses to revoke the last admin token (409 conflict), so token management can never lock itself out', async () => {
    const admins = (await store.principals.list()).filter((p) => p.revokedAt === null && p.roles.includes('admin') && p.name !== 'admin');
    const spare = await app.inject({ method: 'POST', url: '/tokens', headers: bearer(adminToken), payload: { name: 'spare-admin', roles: ['admin'] } });
    expect(spare.statusCode).toBe(201);
    // While another admin exists, an admin token can go.
    for (const other of [...admins.map((a) => a.name), 'spare-admin']) {
      expect((await app.inject({ method: 'DELETE', url: `/tokens/${other}`, headers: bearer(adminToken) })).statusCode, other).toBe(200);
    }
    const last = await app.inject({ method: 'DELETE', url: '/tokens/admin', headers: bearer(adminToken) });
    expect([last.statusCode, last.json<ErrorBody>().error.code]).toEqual([409, 'conflict']);
    expect((await app.inject({ method: 'GET', url: '/tokens', headers: bearer(adminToken) })).statusCode).toBe(200);
  });
});

describe('audit routes', () => {
  it('keep verify and export to admin and system', async () => {
    for (const url of ['/audit/verify', '/audit/export']) {
      expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
      const denied = await app.inject({ method: 'GET', url, headers: bearer(operatorToken) });
      expect([denied.statusCode, denied.json<ErrorBody>().error.code]).toEqual([403, 'forbidden']);
      expect(await lastEntry()).toMatchObject({ principal: 'operator', action: 'denied', details: { attempted: url === '/audit/verify' ? 'audit_verify' : 'audit_export' } });
    }
  });

  it('export every entry as JSON lines, across pages, resuming after a seq', async () => {
    // Past one database page (1000), so the stream really pages.
    for (let i = 0; i < 1100; i += 1) await store.audit.append({ principal: 'system', action: 'read', outcome: 'allowed', location: 'aws', objectKey: `bulk/${i}` });
    const head = await store.audit.head();
    const response = await app.inject({ method: 'GET', url: '/audit/export', headers: bearer(adminToken) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    const lines = response.body.trimEnd().split('\n').map((line) => JSON.parse(line) as { seq: number; action: string; principal: string; hash: string; prev_hash: string });
    // Everything up to the head, plus the entry recording this export.
    expect(lines).toHaveLength((head?.seq ?? 0) + 1);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
    expect(lines.at(-1)).toMatchObject({ action: 'audit_export', principal: 'admin' });
    for (let i = 1; i < lines.length; i += 1) expect(lines[i]?.prev_hash).toBe(lines[i - 1]?.hash);

    const resumed = await app.inject({ method: 'GET', url: `/audit/export?after_seq=${lines.length - 2}`, headers: bearer(adminToken) });
    expect(resumed.body.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([lines.length - 1, lines.length, lines.length + 1]);
    for (const query of ['after_seq=-1', 'after_seq=abc']) {
      const bad = await app.inject({ method: 'GET', url: `/audit/export?${query}`, headers: bearer(adminToken) });
      expect([bad.statusCode, bad.json<ErrorBody>().error.code]).toEqual([400, 'invalid_argument']);
    }
  });

  it('verify the chain, then name the entry someone edited behind the API’s back', async () => {
    const intact = await app.inject({ method: 'GET', url: '/audit/verify', headers: bearer(adminToken) });
    expect(intact.statusCode).toBe(200);
    const head = await store.audit.head();
    expect(intact.json()).toEqual({ ok: true, entries: head?.seq, head });

    await sqlAuditTamperer.edit(store, 3, 'principal', 'someone-else');
    const tampered = await app.inject({ method: 'GET', url: '/audit/verify', headers: bearer(adminToken) });
    expect(tampered.statusCode).toBe(200);
    expect(tampered.json()).toMatchObject({ ok: false, entries: 2, head: { seq: 2 }, problem: { seq: 3, kind: 'edited' } });
  });
});
