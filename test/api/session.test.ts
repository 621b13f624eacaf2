/**
 * The dashboard's sign-in on embedded defaults: POST/DELETE /session, demo mode's `/?token=`
 * link, the session cookie authenticating reads, CSRF on every cookie-authenticated change
 * (403 csrf_mismatch without the token, 2xx with it; bearer requests unaffected), GET /me for
 * an admin and for a role-limited token, the page and its files kept out of the OpenAPI
 * document, and a token never written to the request log.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { ensureDashboardBuilt } from '../../web/scripts/build.ts';
import { BIN } from '../run.ts';
import { until } from '../until.ts';

const ADMIN = 'session-admin-token-0123456789abcdef';

/** The cookie pair (`name=value`) a Set-Cookie header starts, and its attributes. */
function parseSetCookie(header: string | string[] | undefined): { pair: string; attributes: string[] } {
  const text = Array.isArray(header) ? header[0] : header;
  expect(text, 'a Set-Cookie header').toBeDefined();
  const [pair, ...attributes] = text!.split(';').map((s) => s.trim());
  return { pair: pair!, attributes };
}

describe('dashboard sessions on embedded defaults', () => {
  let app: App;
  let dataDir: string;
  let analyst: string;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    // The page's routes are registered only when it is built.
    await ensureDashboardBuilt({ log: () => undefined });
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-session-'));
    app = await createApp(loadConfig({ MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: ADMIN, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', PORT: '0', CONSISTENCY_SCAN_INTERVAL_S: '0', ENABLE_SYNTHETIC_LOAD: '0' }));
    const created = await app.api.inject({ method: 'POST', url: '/tokens', headers: admin, payload: { name: 'ana', roles: ['analytics'] } });
    analyst = created.json<{ token: string }>().token;
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  const signIn = async (token: string) => {
    const response = await app.api.inject({ method: 'POST', url: '/session', payload: { token } });
    expect(response.statusCode).toBe(200);
    const { pair, attributes } = parseSetCookie(response.headers['set-cookie']);
    return { cookie: pair, attributes, body: response.json<{ name: string; roles: string[]; csrf_token: string }>(), response };
  };

  it('POST /session exchanges a token for an HttpOnly, SameSite=Strict, Path=/ cookie and a CSRF token; the cookie authenticates reads', async () => {
    const { cookie, attributes, body, response } = await signIn(ADMIN);
    expect(cookie).toBe(`movingdata_session=${ADMIN}`);
    expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
    expect(attributes).not.toContain('Secure');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(body).toMatchObject({ name: 'admin', roles: expect.arrayContaining(['admin']) as unknown });
    expect(body.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const files = await app.api.inject({ method: 'GET', url: '/files', headers: { cookie } });
    expect(files.statusCode).toBe(200);
    const me = await app.api.inject({ method: 'GET', url: '/me', headers: { cookie: `other=1; ${cookie}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ name: 'admin', authenticated_by: 'cookie', csrf_token: body.csrf_token });
    // GET /session: what a page asks first, never a 401.
    expect((await app.api.inject({ method: 'GET', url: '/session', headers: { cookie } })).json()).toEqual({ signed_in: true, name: 'admin', roles: expect.arrayContaining(['admin']) as unknown, csrf_token: body.csrf_token });
    const none = await app.api.inject({ method: 'GET', url: '/session', headers: admin });
    expect(none.statusCode).toBe(200);
    expect(none.json()).toEqual({ signed_in: false });
    // Another token's session has another CSRF token.
    expect((await signIn(analyst)).body.csrf_token).not.toBe(body.csrf_token);
  });

  it('refuses a sign-in with an unknown token (401) or something that is not a token (400), and a cookie of a revoked token', async () => {
    const unknown = await app.api.inject({ method: 'POST', url: '/session', payload: { token: 'mdt_not-a-token-anyone-holds-0123456789' } });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    expect(unknown.headers['set-cookie']).toBeUndefined();
    expect((await app.api.inject({ method: 'POST', url: '/session', payload: { token: 'short' } })).statusCode).toBe(400);
    expect((await app.api.inject({ method: 'POST', url: '/session', payload: {} })).statusCode).toBe(400);

    const created = await app.api.inject({ method: 'POST', url: '/tokens', headers: admin, payload: { name: 'short-lived', roles: ['analytics'] } });
    const { cookie } = await signIn(created.json<{ token: string }>().token);
    expect((await app.api.inject({ method: 'GET', url: '/me', headers: { cookie } })).statusCode).toBe(200);
    expect((await app.api.inject({ method: 'DELETE', url: '/tokens/short-lived', headers: admin })).statusCode).toBe(200);
    const revoked = await app.api.inject({ method: 'GET', url: '/me', headers: { cookie } });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    const state = await app.api.inject({ method: 'GET', url: '/session', headers: { cookie } });
    expect(state.json()).toEqual({ signed_in: false });
    expect(parseSetCookie(state.headers['set-cookie']).attributes).toContain('Max-Age=0');
  });

  it('requires x-csrf-token on cookie-authenticated POST and DELETE (403 csrf_mismatch without or wrong, 2xx with); bearer requests need none', async () => {
    const { cookie, body } = await signIn(ADMIN);
    const reading = { device_id: 'csrf-sensor', ts: new Date().toISOString(), value: 1 };

    const without = await app.api.inject({ method: 'POST', url: '/stream/event', headers: { cookie }, payload: reading });
    expect(without.statusCode).toBe(403);
    expect(without.json()).toMatchObject({ error: { code: 'csrf_mismatch' } });
    const wrong = await app.api.inject({ method: 'POST', url: '/stream/event', headers: { cookie, 'x-csrf-token': 'x'.repeat(43) }, payload: reading });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ error: { code: 'csrf_mismatch' } });
    const other = await signIn(analyst);
    expect((await app.api.inject({ method: 'POST', url: '/stream/event', headers: { cookie, 'x-csrf-token': other.body.csrf_token }, payload: reading })).statusCode).toBe(403);

    const withToken = await app.api.inject({ method: 'POST', url: '/stream/event', headers: { cookie, 'x-csrf-token': body.csrf_token }, payload: reading });
    expect(withToken.statusCode).toBe(202);
    const seeded = await app.api.inject({ method: 'POST', url: '/seed', headers: { cookie, 'x-csrf-token': body.csrf_token } });
    expect(seeded.statusCode).toBe(200);

    // A DELETE too; a bearer request, with or without a cookie beside it, needs no CSRF token.
    expect((await app.api.inject({ method: 'POST', url: '/tokens', headers: admin, payload: { name: 'to-revoke', roles: ['analytics'] } })).statusCode).toBe(201);
    const deleteWithout = await app.api.inject({ method: 'DELETE', url: '/tokens/to-revoke', headers: { cookie } });
    expect(deleteWithout.statusCode).toBe(403);
    expect(deleteWithout.json()).toMatchObject({ error: { code: 'csrf_mismatch' } });
    expect((await app.api.inject({ method: 'DELETE', url: '/tokens/to-revoke', headers: { cookie, 'x-csrf-token': body.csrf_token } })).statusCode).toBe(200);
    expect((await app.api.inject({ method: 'POST', url: '/stream/event', headers: admin, payload: reading })).statusCode).toBe(202);
    expect((await app.api.inject({ method: 'POST', url: '/stream/event', headers: { ...admin, cookie }, payload: reading })).statusCode).toBe(202);
  });

  it('acknowledges an alert with the cookie and its CSRF token', async () => {
    const { cookie, body } = await signIn(ADMIN);
    const { alert } = await app.context.metadata.alerts.raise({ kind: 'latency', subject: 'aws', severity: 'warning', message: 'slow reads (test)', details: {} });
    const without = await app.api.inject({ method: 'POST', url: `/alerts/${alert.id}/ack`, headers: { cookie } });
    expect(without.statusCode).toBe(403);
    const acked = await app.api.inject({ method: 'POST', url: `/alerts/${alert.id}/ack`, headers: { cookie, 'x-csrf-token': body.csrf_token } });
    expect(acked.statusCode).toBe(200);
    expect(acked.json()).toMatchObject({ id: alert.id, state: 'acknowledged', acked_by: 'admin' });
  });

  it('DELETE /session clears the cookie; with the cookie it needs the CSRF token', async () => {
    const { cookie, body } = await signIn(ADMIN);
    const refused = await app.api.inject({ method: 'DELETE', url: '/session', headers: { cookie } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'csrf_mismatch' } });
    const out = await app.api.inject({ method: 'DELETE', url: '/session', headers: { cookie, 'x-csrf-token': body.csrf_token } });
    expect(out.statusCode).toBe(200);
    expect(out.json()).toEqual({ signed_out: true });
    const cleared = parseSetCookie(out.headers['set-cookie']);
    expect(cleared.pair).toBe('movingdata_session=');
    expect(cleared.attributes).toEqual(expect.arrayContaining(['Max-Age=0', 'Path=/', 'HttpOnly', 'SameSite=Strict']));
    // Without a cookie there is nothing to protect: idempotent.
    expect((await app.api.inject({ method: 'DELETE', url: '/session' })).statusCode).toBe(200);
  });

  it("demo mode's /?token= link sets the cookie and redirects (303) to / without the query; a bad token lands on the sign-in page", async () => {
    const link = await app.api.inject({ method: 'GET', url: `/?token=${encodeURIComponent(ADMIN)}` });
    expect(link.statusCode).toBe(303);
    expect(link.headers['location']).toBe('/');
    expect(link.headers['referrer-policy']).toBe('no-referrer');
    const { pair, attributes } = parseSetCookie(link.headers['set-cookie']);
    expect(pair).toBe(`movingdata_session=${ADMIN}`);
    expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
    expect((await app.api.inject({ method: 'GET', url: '/me', headers: { cookie: pair } })).json()).toMatchObject({ name: 'admin', authenticated_by: 'cookie' });

    const bad = await app.api.inject({ method: 'GET', url: '/?token=mdt_nobody-holds-this-token-0123456789' });
    expect(bad.statusCode).toBe(303);
    expect(bad.headers['location']).toBe('/?signin=invalid_token');
    expect(bad.headers['set-cookie']).toBeUndefined();
  });

  it('GET /me tells an admin and a role-limited token what they may do', async () => {
    const asAdmin = await app.api.inject({ method: 'GET', url: '/me', headers: admin });
    expect(asAdmin.statusCode).toBe(200);
    expect(asAdmin.json()).toEqual({
      name: 'admin',
      roles: expect.arrayContaining(['admin', 'system']) as unknown,
      authenticated_by: 'bearer',
      csrf_token: null,
      locations: [
        { name: 'aws', provider: 'local', read: true, write: true },
        { name: 'azure', provider: 'local', read: true, write: true },
        { name: 'gcp', provider: 'local', read: true, write: true },
      ],
      can: { view_operations: true, manage_tokens: true, seed: true, audit: true },
    });
    const asAnalyst = await app.api.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${analyst}` } });
    expect(asAnalyst.json()).toMatchObject({
      name: 'ana',
      roles: ['analytics'],
      locations: [
        { name: 'aws', read: true, write: true },
        { name: 'azure', read: false, write: false },
        { name: 'gcp', read: false, write: false },
      ],
      can: { view_operations: false, manage_tokens: false, seed: false, audit: false },
    });
    expect((await app.api.inject({ method: 'GET', url: '/me' })).statusCode).toBe(401);
  });

  it('GET /inventory counts copies and bytes per location the caller may read', async () => {
    await app.api.inject({ method: 'POST', url: '/seed', headers: admin });
    const all = (await app.api.inject({ method: 'GET', url: '/inventory', headers: admin })).json<{ locations: Array<{ location: string; objects: number; bytes: number; by_state: Record<string, { objects: number }> }> }>();
    expect(all.locations.map((l) => l.location)).toEqual(['aws', 'azure', 'gcp']);
    expect(all.locations.reduce((n, l) => n + l.objects, 0)).toBeGreaterThanOrEqual(12);
    for (const l of all.locations) {
      expect(l.objects).toBeGreaterThan(0);
      expect(l.bytes).toBeGreaterThan(0);
      expect(l.by_state['verified']?.objects).toBe(l.objects);
    }
    const mine = (await app.api.inject({ method: 'GET', url: '/inventory', headers: { authorization: `Bearer ${analyst}` } })).json<{ locations: Array<{ location: string; objects: number }> }>();
    expect(mine.locations.map((l) => l.location)).toEqual(['aws']);
    expect(mine.locations[0]?.objects).toBe(all.locations[0]?.objects);
  });

  it('serves the page at / and /ui/*, its files, and keeps them out of the OpenAPI document; API paths keep their JSON 404/405', async () => {
    const page = await app.api.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<div id="root">');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await app.api.inject({ method: 'GET', url: script!, headers: { 'accept-encoding': 'gzip' } });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-encoding']).toBe('gzip');
    expect(asset.headers['cache-control']).toContain('immutable');
    const route = await app.api.inject({ method: 'GET', url: '/ui/alerts' });
    expect(route.statusCode).toBe(200);
    expect(route.body).toBe(page.body);

    const missing = await app.api.inject({ method: 'GET', url: '/no-such-route' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await app.api.inject({ method: 'POST', url: '/health' })).statusCode).toBe(405);
    expect((await app.api.inject({ method: 'GET', url: '/alerts' })).statusCode).toBe(401);

    const document = (await app.api.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>();
    const paths = Object.keys(document.paths);
    expect(paths).toEqual(expect.arrayContaining(['/session', '/me', '/inventory']));
    expect(paths.filter((p) => p === '/' || p.startsWith('/ui') || p.startsWith('/assets') || p.endsWith('.html'))).toEqual([]);
    expect(Object.keys(document.paths['/session']!).sort()).toEqual(['delete', 'get', 'post']);
    expect(document.paths['/session']!['post']!.responses).toHaveProperty('401');
    expect(document.paths['/me']!['get']!.responses).toHaveProperty('200');
  });
});

describe('the request log', () => {
  it("never holds the token of demo mode's sign-in link, which the banner prints", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'movingdata-session-log-'));
    const child = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0'], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', MOVINGDATA_DATA_DIR: dataDir, ENABLE_SYNTHETIC_LOAD: '0', CONSISTENCY_SCAN_INTERVAL_S: '0', MOVINGDATA_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise((resolve) => child.once('close', resolve));
    try {
      const [, link, address, token] = await until('the banner with the sign-in link', async () => /Dashboard \(this link signs you in\): ((http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+))/.exec(stderr) ?? undefined, 60_000);
      const response = await fetch(link!, { redirect: 'manual' });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/');
      // The same link with its parameter's name encoded, and a sign-in by body: neither leaves the token behind.
      expect((await fetch(`${address!}/?%74oken=${token!}`, { redirect: 'manual' })).status).toBe(303);
      expect((await fetch(`${address!}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })).status).toBe(200);
      await until('the request log lines', async () => (stdout.includes('token=[redacted]') && stdout.includes('/session') ? true : undefined), 10_000);
      expect(stdout).not.toContain(token!);
      expect(stdout).toContain('"url":"/?token=[redacted]"');
      expect(stdout).toContain(`dashboard at ${address!}/`);
    } finally {
      child.kill('SIGTERM');
      await closed;
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
