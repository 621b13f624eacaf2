import { defineConfig } from 'vitest/config';

// MOVINGDATA_NO_LAB=1 runs without starting the lab (tests that need a server then fail fast
// with a message saying so); the test command always runs with the lab.
const withLab = process.env['MOVINGDATA_NO_LAB'] !== '1';

export default defineConfig({
  test: {
    // web/: the dashboard's unit and component tests (a component test names its DOM: happy-dom).
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.{ts,tsx}'],
    // Brings up the lab of real servers (MinIO, Azurite, fake-gcs-server, Kafka, PostgreSQL)
    // once per run and hands its settings to the tests through `inject('lab')`.
    globalSetup: withLab ? ['test/global-setup.ts'] : [],
    pool: 'forks',
    // --expose-gc lets memory checks start from a collected heap.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Conformance suites put real load on the servers; two files at a time fit two cores.
    maxWorkers: 2,
  },
});
