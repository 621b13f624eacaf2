/**
 * Small objects through the control plane, beside the store itself: N × 4 KiB PUTs then GETs at
 * a fixed concurrency from one client process, through `/files/aws/...` on the real server
 * (`movingdata serve --demo` on the lab: PostgreSQL metadata, MinIO with SSE-KMS), and straight
 * to the same MinIO bucket with the AWS SDK (SSE-KMS too), in the same run. Each side reports
 * requests/s, p50 and p99 latency, and CPU per request: our server's, PostgreSQL's (every
 * `postgres` process) and MinIO's. Target (issue 13 §8): ≥ 0.6 × MinIO direct for PUT and GET,
 * p99 ≤ 1.5 × MinIO direct's. On embedded defaults (PGlite, local disk) there is no reference:
 * absolute figures only.
 *
 * Every request our side answers is checked: a PUT must be 201, a GET 200 with the body's SHA-256
 * equal to its ETag. MOVINGDATA_BENCH_CPU_PROF=1 writes a V8 CPU profile of the server to
 * bench/results/profiles/; MOVINGDATA_BENCH_SMALL_LAB_ONLY=1 leaves out the embedded rows.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { processCpu } from '../lib/cpu.ts';
import { BENCH_TOKEN, startBenchServer } from '../lib/server.ts';

const PROFILE_DIR = join(import.meta.dirname, '..', 'results', 'profiles');
const BUCKET = 'movingdata-bench-small';

export interface SmallCase {
  readonly objects: number;
  readonly bytes: number;
  readonly concurrency: number;
}

export const FULL_CASE: SmallCase = { objects: 2000, bytes: 4096, concurrency: 16 };
export const QUICK_CASE: SmallCase = { objects: 300, bytes: 4096, concurrency: 16 };

export interface SmallRow {
  readonly setup: string;
  readonly side: 'ours' | 'MinIO direct';
  readonly op: 'PUT' | 'GET';
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU milliseconds per request, by process: our server, PostgreSQL, MinIO (NaN where not in play). */
  readonly serverCpuMs: number;
  readonly postgresCpuMs: number;
  readonly minioCpuMs: number;
  /** ours / MinIO direct (requests/s), and p99 ours / p99 direct, on our rows with a reference. */
  readonly ratio?: number;
  readonly p99Ratio?: number;
}

/** CPU seconds of every process whose command name is `name` (e.g. all PostgreSQL backends). */
function cpuOfCommand(name: string): number {
  let total = 0;
  let found = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== name) continue;
    const cpu = processCpu(Number(entry));
    if (Number.isFinite(cpu)) {
      total += cpu;
      found = true;
    }
  }
  return found ? total : Number.NaN;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Phase {
  readonly seconds: number;
  readonly latencies: number[];
}

/** Runs `count` calls of `one(i)` with `concurrency` in flight; per-call latency in ms. */
async function drive(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<Phase> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

interface Cpu {
  server: number;
  postgres: number;
  minio: number;
}

function cpuNow(serverPid: number | undefined): Cpu {
  return { server: serverPid === undefined ? Number.NaN : processCpu(serverPid), postgres: cpuOfCommand('postgres'), minio: cpuOfCommand('minio') };
}

function row(setup: string, side: SmallRow['side'], op: SmallRow['op'], phase: Phase, before: Cpu, after: Cpu, usesPostgres: boolean): SmallRow {
  const n = phase.latencies.length;
  const perRequest = (a: number, b: number) => ((b - a) * 1000) / n;
  return {
    setup,
    side,
    op,
    requests: n,
    perSecond: n / phase.seconds,
    p50Ms: percentile(phase.latencies, 50),
    p99Ms: percentile(phase.latencies, 99),
    serverCpuMs: perRequest(before.server, after.server),
    postgresCpuMs: usesPostgres ? perRequest(before.postgres, after.postgres) : Number.NaN,
    minioCpuMs: perRequest(before.minio, after.minio),
  };
}

/** One HTTP/1.1 call to our server on a kept-alive connection; the whole answer body. */
function call(agent: Agent, port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer; etag: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { authorization: `Bearer ${BENCH_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': body.length }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), etag: typeof res.headers.etag === 'string' ? res.headers.etag.replaceAll('"', '') : undefined }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function oursRun(setup: string, env: Readonly<Record<string, string>>, dataDir: string, run: SmallCase, usesPostgres: boolean, log: (line: string) => void): Promise<SmallRow[]> {
  const profile = process.env['MOVINGDATA_BENCH_CPU_PROF'] === '1';
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=small-${setup.split(' ')[0]}-${Date.now()}.cpuprofile`] : [];
  const server = await startBenchServer(env, dataDir, flags);
  const agent = new Agent({ keepAlive: true, maxSockets: run.concurrency });
  const prefix = `small/${Date.now().toString(36)}`;
  const body = (i: number) => Buffer.concat([Buffer.from(`${prefix}/${i}\n`), randomBytes(run.bytes)]).subarray(0, run.bytes);
  try {
    const put = async (i: number, key = `${prefix}/o${i}`) => {
      const answer = await call(agent, server.port, 'PUT', `/files/aws/${key}`, body(i));
      if (answer.status !== 201) throw new Error(`PUT ${key} answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}`);
    };
    const get = async (i: number, key = `${prefix}/o${i}`) => {
      const answer = await call(agent, server.port, 'GET', `/files/aws/${key}`);
      if (answer.status !== 200 || answer.body.length !== run.bytes) throw new Error(`GET ${key} answered ${answer.status} with ${answer.body.length} bytes`);
      if (createHash('sha256').update(answer.body).digest('hex') !== answer.etag) throw new Error(`GET ${key}: body does not match its ETag`);
    };
    // Warm-up: connections, JIT, caches, the bucket.
    const warm = Math.min(200, run.objects);
    await drive(warm, run.concurrency, (i) => put(i, `${prefix}/warm${i}`));
    await drive(warm, run.concurrency, (i) => get(i, `${prefix}/warm${i}`));
    log(`small ${setup}: ${run.objects} × PUT ${run.bytes} B, concurrency ${run.concurrency}`);
    let before = cpuNow(server.pid);
    const putPhase = await drive(run.objects, run.concurrency, (i) => put(i));
    let after = cpuNow(server.pid);
    const putRow = row(setup, 'ours', 'PUT', putPhase, before, after, usesPostgres);
    log(`small ${setup}: ${run.objects} × GET`);
    before = cpuNow(server.pid);
    const getPhase = await drive(run.objects, run.concurrency, (i) => get(i));
    after = cpuNow(server.pid);
    return [putRow, row(setup, 'ours', 'GET', getPhase, before, after, usesPostgres)];
  } finally {
    agent.destroy();
    await server.stop();
  }
}

async function minioRun(setup: string, lab: Readonly<Record<string, string>>, run: SmallCase, log: (line: string) => void): Promise<SmallRow[]> {
  const client = new S3Client({
    endpoint: lab['S3_ENDPOINT']!,
    region: lab['S3_REGION'] ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: lab['S3_ACCESS_KEY']!, secretAccessKey: lab['S3_SECRET_KEY']! },
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: run.concurrency }) },
  });
  const sse = lab['S3_SSE_KMS_KEY_ID'] === undefined ? {} : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: lab['S3_SSE_KMS_KEY_ID'] };
  const prefix = `direct/${Date.now().toString(36)}`;
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((err: unknown) => {
      if (!(err instanceof Error && /BucketAlready(OwnedByYou|Exists)/.test(err.name))) throw err;
    });
    const put = async (i: number, key = `${prefix}/o${i}`) => {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: randomBytes(run.bytes), ...sse }));
    };
    const get = async (i: number, key = `${prefix}/o${i}`) => {
      const answer = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const bytes = await answer.Body!.transformToByteArray();
      if (bytes.length !== run.bytes) throw new Error(`direct GET ${key}: ${bytes.length} bytes`);
    };
    const warm = Math.min(200, run.objects);
    await drive(warm, run.concurrency, (i) => put(i, `${prefix}/warm${i}`));
    await drive(warm, run.concurrency, (i) => get(i, `${prefix}/warm${i}`));
    log(`small ${setup}: MinIO direct, ${run.objects} × PUT`);
    let before = cpuNow(undefined);
    const putPhase = await drive(run.objects, run.concurrency, (i) => put(i));
    let after = cpuNow(undefined);
    const putRow = row(setup, 'MinIO direct', 'PUT', putPhase, before, after, false);
    log(`small ${setup}: MinIO direct, ${run.objects} × GET`);
    before = cpuNow(undefined);
    const getPhase = await drive(run.objects, run.concurrency, (i) => get(i));
    after = cpuNow(undefined);
    return [putRow, row(setup, 'MinIO direct', 'GET', getPhase, before, after, false)];
  } finally {
    client.destroy();
  }
}

export async function runSmallBench(lab: Readonly<Record<string, string>>, workDir: string, run: SmallCase, log: (line: string) => void): Promise<SmallRow[]> {
  const labSetup = 'lab (PostgreSQL, MinIO SSE-KMS)';
  const schema = `bench_small_${Date.now().toString(36)}`;
  const labEnv = { ...lab, S3_BUCKET: BUCKET, DATABASE_SCHEMA: schema, CONSISTENCY_SCAN_INTERVAL_S: '0' };
  // The reference first and last would be fairer still; one of each, in one run, on one machine.
  const direct = await minioRun(labSetup, lab, run, log);
  const ours = await oursRun(labSetup, labEnv, join(workDir, 'small-lab'), run, true, log);
  const withRatios = ours.map((r) => {
    const reference = direct.find((d) => d.op === r.op)!;
    return { ...r, ratio: r.perSecond / reference.perSecond, p99Ratio: r.p99Ms / reference.p99Ms };
  });
  if (process.env['MOVINGDATA_BENCH_SMALL_LAB_ONLY'] === '1') return [...direct, ...withRatios];
  const embedded = await oursRun('embedded (PGlite, local disk)', { CONSISTENCY_SCAN_INTERVAL_S: '0' }, join(workDir, 'small-embedded'), run, false, log);
  return [...direct, ...withRatios, ...embedded];
}
