/**
 * Vitest global setup: installs (cached) and starts the lab of real servers once per run, and
 * provides its settings to tests as `inject('lab')` (see test/lab.ts). Servers already running
 * are reused; the teardown stops only the ones this run started, and none when
 * MOVINGDATA_LAB_KEEP=1 (handy when running tests again and again).
 */
import type { TestProject } from 'vitest/node';
import { startLab, stopLab } from '../src/lab/index.ts';
// Brings the `ProvidedContext` augmentation (the type of 'lab') into this file.
import type {} from './lab.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (message: string): void => {
    console.error(`lab: ${message}`);
  };
  const { env, started } = await startLab(undefined, { log });
  project.provide('lab', env);
  return async () => {
    if (started.length === 0 || process.env['MOVINGDATA_LAB_KEEP'] === '1') return;
    await stopLab(started, { log });
  };
}
