/**
 * MinIO, the lab's S3. Built from source with Go (AGPL: never committed), started with the
 * lab's generated root credentials and a static KMS key named `netapp-key`, so SSE-KMS works
 * exactly as clients will use it against a real KMS-backed bucket.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { installGoBinary, goBinaryInstalled, type GoBinary } from '../go-binary.ts';
import { httpAnswers } from '../probes.ts';
import { DetachedProcess, LAB_HOST, type LabContext, type LabServer, type Placement } from '../server.ts';

export const MINIO_BINARY: GoBinary = {
  name: 'minio',
  module: 'github.com/minio/minio',
  version: 'v0.0.0-20260212201848-7aac2a2c5b7c',
};

export const MINIO_PORT = 9000;
export const MINIO_KMS_KEY_ID = 'netapp-key';

export function minioServer(ctx: LabContext, at: Placement): LabServer {
  const binary = join(ctx.paths.bin, MINIO_BINARY.name);
  const dataDir = join(at.dir, 'data');
  const logPath = join(at.dir, 'server.log');
  const proc = new DetachedProcess({
    dir: at.dir,
    logPath,
    pidPath: join(at.dir, 'server.pid'),
    marker: dataDir,
  });
  const { rootUser, rootPassword, kmsKey } = ctx.credentials.minio;
  const endpoint = `http://${LAB_HOST}:${at.port}`;

  return {
    name: 'minio',
    port: at.port,
    ports: [at.port],
    dir: at.dir,
    logPath,
    startTimeoutMs: 60_000,
    installed: () => goBinaryInstalled(ctx.paths.bin, MINIO_BINARY),
    install: (log) => installGoBinary(ctx.paths.bin, MINIO_BINARY, { name: 'minio' }, log),
    async start() {
      await mkdir(dataDir, { recursive: true });
      await proc.start(binary, ['server', '--address', `${LAB_HOST}:${at.port}`, dataDir], {
        MINIO_ROOT_USER: rootUser,
        MINIO_ROOT_PASSWORD: rootPassword,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
        MINIO_KMS_SECRET_KEY: `${MINIO_KMS_KEY_ID}:${kmsKey}`,
      });
    },
    // `/minio/health/ready` answers 200 as soon as the listener is up; after a restart the S3 API
    // still answers XMinioServerNotInitialized for a while. The cluster probe answers 503 until the
    // object layer is initialised and has write quorum, so ready means S3 calls succeed.
    ready: () => httpAnswers(`${endpoint}/minio/health/cluster`),
    stop: () => proc.stop(),
    pid: () => proc.pid(),
    env: () => ({
      S3_ENDPOINT: endpoint,
      S3_ACCESS_KEY: rootUser,
      S3_SECRET_KEY: rootPassword,
      S3_REGION: 'us-east-1',
      S3_SSE_KMS_KEY_ID: MINIO_KMS_KEY_ID,
    }),
  };
}
