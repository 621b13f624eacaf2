import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { labEnv } from '../lab.ts';

interface Health {
  status: string;
  dependencies: Array<{ name: string; kind: string; status: string; latency_ms: number; error?: { code: string } }>;
}

const setups: Array<[string, () => Record<string, string>, Record<string, string>]> = [
  ['embedded defaults', () => ({}), { metadata: 'pglite', aws: 'local', azure: 'local', gcp: 'local' }],
  [
    'the lab',
    () => {
      const lab = labEnv();
      return { ...lab, DATABASE_SCHEMA: `health_${process.pid}` };
    },
    { metadata: 'postgres', aws: 's3', azure: 'azure', gcp: 'gcs' },
  ],
];

describe.each(setups)('control plane on %s', (_label, environment, kinds) => {
  let app: App;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-api-'));
    app = await createApp(loadConfig({ ...environment(), MOVINGDATA_DEMO: '1', MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', PORT: '0' }));
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports every dependency as ok, with its kind and a latency', async () => {
    const response = await app.api.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    const body = response.json<Health>();
    expect(body.status).toBe('ok');
    const byName = Object.fromEntries(body.dependencies.map((d) => [d.name, d]));
    for (const [name, kind] of Object.entries(kinds)) {
      expect(byName[name]?.kind).toBe(kind);
      expect(byName[name]?.status).toBe('ok');
      expect(byName[name]?.latency_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it('serves interactive docs and an OpenAPI document generated from the routes', async () => {
    const docs = await app.api.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
    const spec = await app.api.inject({ method: 'GET', url: '/docs/json' });
    expect(spec.statusCode).toBe(200);
    const openapi = spec.json<{ openapi: string; paths: Record<string, { get?: { responses: Record<string, unknown> } }> }>();
    expect(openapi.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.paths['/health']?.get?.responses ?? {})).toContain('200');
  });

  it('answers an unknown route with a JSON error and a stable code', async () => {
    const response = await app.api.inject({ method: 'GET', url: '/no/such/route' });
    expect(response.statusCode).toBe(404);
    const body = response.json<{ error: { code: string; request_id: string } }>();
    expect(body.error.code).toBe('not_found');
    expect(body.error.request_id).toMatch(/[0-9a-f-]{36}/);
  });
});

describe('health when a dependency is down', () => {
  it('reports a storage location that cannot be reached as degraded, naming it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'movingdata-api-'));
    const lab = labEnv();
    // A port nobody listens on: what a client sees when the server has stopped.
    const app = await createApp(
      loadConfig({
        MOVINGDATA_DEMO: '1',
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'silent',
        S3_ENDPOINT: 'http://127.0.0.1:1',
        S3_ACCESS_KEY: lab['S3_ACCESS_KEY'] ?? 'x',
        S3_SECRET_KEY: lab['S3_SECRET_KEY'] ?? 'y',
      }),
    );
    try {
      const response = await app.api.inject({ method: 'GET', url: '/health' });
      expect(response.statusCode).toBe(200);
      const body = response.json<Health>();
      expect(body.status).toBe('degraded');
      const aws = body.dependencies.find((d) => d.name === 'aws');
      expect(aws?.status).not.toBe('ok');
      expect(aws?.error?.code).toBe('unavailable');
      expect(body.dependencies.find((d) => d.name === 'azure')?.status).toBe('ok');
    } finally {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
