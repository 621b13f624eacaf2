/**
 * The API against its own OpenAPI document, fuzzed by schemathesis (pinned in the lab's venv,
 * LAB_PYTHON) with `--checks all`: a server on embedded defaults, called with a token of each
 * role, every operation, bounded in examples and time. Zero failures: no 5xx, every status and
 * media type documented, bad input refused, good input accepted, 405 for undeclared methods.
 * The rejections no schema can express are listed, with why, in
 * test/fixtures/schemathesis/schemathesis.toml.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { labEnv } from '../lab.ts';

const run = promisify(execFile);
const ADMIN = 'demo-admin-token-for-the-contract-0123';
const CONFIG = join(import.meta.dirname, '..', 'fixtures', 'schemathesis', 'schemathesis.toml');

describe('the API contract, checked by schemathesis', () => {
  let app: App;
  let dataDir: string;
  let url: string;
  const tokens: Record<string, string> = { admin: ADMIN };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-contract-'));
    app = await createApp(
      loadConfig({ MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: ADMIN, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', CONSISTENCY_SCAN_INTERVAL_S: '0', PORT: '0' }),
    );
    url = await app.listen();
    for (const [name, roles] of [
      ['analyst', ['analytics']],
      ['operator', ['operations']],
      ['auditor', ['compliance']],
    ] as const) {
      const created = await app.api.inject({ method: 'POST', url: '/tokens', headers: { authorization: `Bearer ${ADMIN}` }, payload: { name, roles } });
      tokens[name] = created.json<{ token: string }>().token;
    }
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // One worker: with two, schemathesis 4.32.5 under load sometimes dies in its own import
  // (KeyError / "AST constructor recursion depth mismatch", a thread-safety bug), not on our API.
  it.each(['admin', 'analyst', 'operator', 'auditor'])('finds no failure with the %s token', async (role) => {
    const python = labEnv()['LAB_PYTHON']!;
    const args = [
      '-m', 'schemathesis.cli', '--config-file', CONFIG, 'run', `${url}/docs/json`,
      '-H', `Authorization: Bearer ${tokens[role]}`,
      '--checks', 'all', '--max-examples', '8', '--workers', '1', '--seed', '20261202',
      '--generation-database', 'none', '--no-shrink', '--request-timeout', '15', '--max-time', '30',
    ];
    const result = await run(python, args, { cwd: dataDir, timeout: 150_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }).then(
      (ok) => ({ code: 0, out: ok.stdout + ok.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
    );
    const summary = result.out.split('\n').filter((l) => /failures?|passed|ST\d{3}|Error/.test(l)).slice(-40).join('\n');
    expect(result.code, `schemathesis (${role}):\n${summary}`).toBe(0);
    // The closing line ("N passed ..." or "N warnings in ..."): no failure, no error.
    const closing = result.out.trimEnd().split('\n').at(-1) ?? '';
    expect(closing).toMatch(/ in \d+(\.\d+)?s/);
    expect(closing).not.toMatch(/fail|error/i);
  }, 180_000);
});
