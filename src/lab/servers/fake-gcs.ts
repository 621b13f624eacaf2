/**
 * fake-gcs-server, the lab's Google Cloud Storage. Built from source with Go; plain HTTP on
 * 127.0.0.1 (its defaults, https on 0.0.0.0, are wrong for a lab). A custom endpoint makes
 * the GCS client skip authentication, so it needs no credentials.
 *
 * It stores objects on disk (its filesystem backend). That backend keeps each object at
 * <root>/<bucket>/<name> unescaped, so it cannot hold some keys real GCS accepts (`a` beside
 * `a/b`, segments over 255 bytes, `.`/`..`/empty segments): the GCS adapter's `fake-gcs` key
 * rules refuse those up front. (The memory backend has no such limits but keeps every object
 * generation in memory for ever: it grew past 20 GB under the benchmarks.)
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { installGoBinary, goBinaryInstalled, type GoBinary } from '../go-binary.ts';
import { httpAnswers } from '../probes.ts';
import { DetachedProcess, LAB_HOST, type LabContext, type LabServer, type Placement } from '../server.ts';

export const FAKE_GCS_BINARY: GoBinary = {
  name: 'fake-gcs-server',
  module: 'github.com/fsouza/fake-gcs-server',
  version: 'v1.55.1',
};

export const FAKE_GCS_PORT = 4443;
export const GCS_PROJECT_ID = 'movingdata-lab';

export function fakeGcsServer(ctx: LabContext, at: Placement): LabServer {
  const binary = join(ctx.paths.bin, FAKE_GCS_BINARY.name);
  const dataDir = join(at.dir, 'data');
  const logPath = join(at.dir, 'server.log');
  const proc = new DetachedProcess({ dir: at.dir, logPath, pidPath: join(at.dir, 'server.pid'), marker: dataDir });
  const address = `${LAB_HOST}:${at.port}`;
  const endpoint = `http://${address}`;

  return {
    name: 'fake-gcs',
    port: at.port,
    ports: [at.port],
    dir: at.dir,
    logPath,
    startTimeoutMs: 30_000,
    installed: () => goBinaryInstalled(ctx.paths.bin, FAKE_GCS_BINARY),
    install: (log) => installGoBinary(ctx.paths.bin, FAKE_GCS_BINARY, { name: 'fake-gcs' }, log),
    async start() {
      await mkdir(dataDir, { recursive: true });
      // Flags are passed as separate words so the data directory is an exact argument (the pid marker).
      await proc.start(binary, [
        '-scheme', 'http',
        '-host', LAB_HOST,
        '-port', String(at.port),
        '-backend', 'filesystem',
        '-filesystem-root', dataDir,
        '-public-host', address,
        '-external-url', endpoint,
        '-log-level', 'warn',
      ]);
    },
    ready: () => httpAnswers(`${endpoint}/_internal/healthcheck`),
    stop: () => proc.stop(),
    pid: () => proc.pid(),
    env: () => ({ GCS_ENDPOINT: endpoint, GCS_PROJECT_ID }),
  };
}
