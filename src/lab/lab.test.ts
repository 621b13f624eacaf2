/**
 * The lab itself, against the real servers the global setup started: every server answers a
 * real request with the lab's generated credentials, lab.env is complete, `up` is idempotent,
 * and private instances can be started, stopped (port closed) and restarted without touching
 * the shared servers.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { labEnv } from '../../test/lab.ts';
import { labS3Client } from '../../test/lab-s3.ts';
import { isMovingDataError } from '../errors.ts';
import {
  labPaths,
  labStatus,
  startLab,
  startPrivateMinio,
  startPrivateServer,
  type PrivateServer,
  type ServerName,
} from './index.ts';
import { freePort, httpAnswers, httpRequest, kafkaMetadataBrokers, tcpAnswers } from './probes.ts';
import { PYTHON_REQUIREMENTS } from './python.ts';
import { getServiceProperties } from './servers/azurite.ts';
import { runCaptured } from './system.ts';

const LAB_VARIABLES = {
  S3_ENDPOINT: 'http://127.0.0.1:9000',
  S3_ACCESS_KEY: undefined,
  S3_SECRET_KEY: undefined,
  S3_REGION: 'us-east-1',
  S3_SSE_KMS_KEY_ID: 'netapp-key',
  AZURITE_BLOB_URL: 'http://127.0.0.1:10000/devstoreaccount1',
  AZURE_STORAGE_ACCOUNT: 'devstoreaccount1',
  AZURE_STORAGE_KEY: undefined,
  GCS_ENDPOINT: 'http://127.0.0.1:4443',
  GCS_PROJECT_ID: 'movingdata-lab',
  KAFKA_BOOTSTRAP: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/movingdata',
  LAB_PYTHON: undefined,
} as const satisfies Record<string, string | undefined>;

function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

const s3Client = (env: Readonly<Record<string, string>>) => labS3Client(env, { maxAttempts: 1 });

describe('lab settings', () => {
  it('provides every variable, with the fixed values exactly as documented', () => {
    const env = labEnv({ kafka: true });
    for (const [key, fixed] of Object.entries(LAB_VARIABLES)) {
      expect(env[key], key).toBeTruthy();
      if (fixed !== undefined) expect(env[key], key).toBe(fixed);
    }
  });

  it('writes the same settings to lab.env, readable only by its owner', async () => {
    const file = labPaths().envFile;
    const written = parseEnvFile(await readFile(file, 'utf8'));
    expect(written).toEqual(labEnv({ kafka: true }));
    expect((await stat(file)).mode & 0o077).toBe(0);
  });

  it('uses generated secrets, not the well-known emulator key', () => {
    const env = labEnv({ kafka: true });
    expect(env['AZURE_STORAGE_KEY']).not.toMatch(/^Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50/);
    expect(Buffer.from(env['AZURE_STORAGE_KEY'] ?? '', 'base64').length).toBe(64);
    expect(env['S3_ACCESS_KEY']).not.toBe('minioadmin');
  });

  it('LAB_PYTHON is the lab venv, with the pinned cryptography and not the system site-packages', async () => {
    const python = labEnv({ kafka: true })['LAB_PYTHON'] ?? '';
    expect(python.startsWith(labPaths().home)).toBe(true);
    const out = await runCaptured(
      python,
      ['-c', 'import sys, cryptography; print(cryptography.__version__, sys.prefix != sys.base_prefix)'],
      { timeoutMs: 30_000 },
    );
    const pinned = PYTHON_REQUIREMENTS.find((r) => r.startsWith('cryptography=='))?.split('==')[1];
    expect(out.trim()).toBe(`${pinned} True`);
  });
});

describe('each lab server answers real requests', () => {
  const env = labEnv({ kafka: true });

  it('minio: ready, and an SSE-KMS object with netapp-key round-trips', async () => {
    expect(await httpAnswers(`${env['S3_ENDPOINT']}/minio/health/cluster`)).toBe(true);
    const s3 = s3Client(env);
    const bucket = `lab-test-${randomBytes(4).toString('hex')}`;
    const body = `sealed ${randomBytes(8).toString('hex')}`;
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'k',
          Body: body,
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: env['S3_SSE_KMS_KEY_ID'],
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
      expect(head.ServerSideEncryption).toBe('aws:kms');
      expect(head.SSEKMSKeyId).toContain('netapp-key');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
      expect(await got.Body?.transformToString()).toBe(body);
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' })).catch(() => undefined);
      await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      s3.destroy();
    }
  });

  it('minio: refuses a wrong secret', async () => {
    const s3 = s3Client({ ...env, S3_SECRET_KEY: 'not-the-secret' });
    try {
      await expect(s3.send(new CreateBucketCommand({ Bucket: 'lab-wrong-secret' }))).rejects.toThrow();
    } finally {
      s3.destroy();
    }
  });

  it('azurite: a request signed with the generated key succeeds, another key is refused', async () => {
    const url = env['AZURITE_BLOB_URL'] ?? '';
    const account = env['AZURE_STORAGE_ACCOUNT'] ?? '';
    const good = await getServiceProperties(url, account, env['AZURE_STORAGE_KEY'] ?? '');
    expect(good.status).toBe(200);
    expect(good.body).toContain('StorageServiceProperties');
    const bad = await getServiceProperties(url, account, randomBytes(64).toString('base64'));
    expect(bad.status).toBe(403);
  });

  it('fake-gcs: healthcheck and the JSON API answer', async () => {
    expect(await httpAnswers(`${env['GCS_ENDPOINT']}/_internal/healthcheck`)).toBe(true);
    const buckets = await httpRequest(`${env['GCS_ENDPOINT']}/storage/v1/b?project=${env['GCS_PROJECT_ID']}`);
    expect(buckets.status).toBe(200);
    expect(JSON.parse(buckets.body)).toHaveProperty('kind', 'storage#buckets');
  });

  it('kafka: accepts TCP and its metadata lists the broker at KAFKA_BOOTSTRAP', async () => {
    const [host = '', port = ''] = (env['KAFKA_BOOTSTRAP'] ?? '').split(':');
    expect(await tcpAnswers(host, Number(port))).toBe(true);
    const brokers = await kafkaMetadataBrokers(host, Number(port));
    expect(brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: 9092 }]);
  });

  it('postgres: DATABASE_URL answers a query in the movingdata database', async () => {
    const client = new pg.Client({ connectionString: env['DATABASE_URL'], connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const result = await client.query<{ one: number; db: string }>('select 1 as one, current_database() as db');
      expect(result.rows).toEqual([{ one: 1, db: 'movingdata' }]);
    } finally {
      await client.end();
    }
  });
});

describe('lab up', () => {
  it('is idempotent: a second start reuses every server with the same pids', async () => {
    const before = await labStatus();
    expect(before.every((s) => s.running && s.ready)).toBe(true);
    const result = await startLab();
    expect(result.started).toEqual([]);
    expect(result.env).toEqual(labEnv({ kafka: true }));
    const after = await labStatus();
    expect(after.map((s) => s.pid)).toEqual(before.map((s) => s.pid));
  });

  it('names the server and the port when the port is taken by something else', async () => {
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const failure = await startPrivateServer('fake-gcs', { port }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isMovingDataError(failure) && failure.code).toBe('unavailable');
      expect(String(failure)).toMatch(new RegExp(`fake-gcs: port ${port} .* taken`));
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});

describe('private instances', () => {
  const started: PrivateServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.dispose()));
  });

  it('minio: starts on its own port, stops (port closed) and restarts with its data', async () => {
    const minio = await startPrivateMinio();
    started.push(minio);
    expect(minio.port).not.toBe(9000);
    expect(minio.env['S3_ENDPOINT']).toBe(`http://127.0.0.1:${minio.port}`);
    const s3 = s3Client(minio.env);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'kept' }));
      await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'v' }));

      const pid = await minio.pid();
      await minio.stop();
      expect(await tcpAnswers('127.0.0.1', minio.port)).toBe(false);
      expect(await minio.pid()).toBeUndefined();
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'kept', Key: 'k' }))).rejects.toThrow();
      // The shared MinIO is not disturbed.
      expect(await httpAnswers('http://127.0.0.1:9000/minio/health/cluster')).toBe(true);

      await minio.start();
      expect(await minio.pid()).not.toBe(pid);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'kept', Key: 'k' }));
      expect(await got.Body?.transformToString()).toBe('v');
    } finally {
      s3.destroy();
    }
  });

  const others: ServerName[] = ['azurite', 'fake-gcs', 'postgres', 'kafka'];
  for (const name of others) {
    it(`${name}: starts on its own ports, stops (ports closed) and restarts`, async () => {
      const server = await startPrivateServer(name);
      started.push(server);
      expect(await server.ready()).toBe(true);
      await server.stop();
      for (const port of server.ports) expect(await tcpAnswers('127.0.0.1', port), `port ${port}`).toBe(false);
      await server.start();
      expect(await server.ready()).toBe(true);
      await server.dispose();
      expect(await server.pid()).toBeUndefined();
    });
  }
});
