/**
 * Servers we build from source with `go install` (MinIO, fake-gcs-server). The binary goes to
 * the lab's bin/ with a stamp file naming module@version; a pin change rebuilds, a matching
 * stamp skips the build. Go's module and build caches stay where Go keeps them, so even a
 * rebuild is quick the second time.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MovingDataError } from '../errors.ts';
import { requireTools, runCaptured, runLogged } from './system.ts';
import { logTail, type LabLog } from './server.ts';

export interface GoBinary {
  /** File name of the binary in bin/. */
  readonly name: string;
  /** Module path to `go install`. */
  readonly module: string;
  readonly version: string;
}

function pin(binary: GoBinary): string {
  return `${binary.module}@${binary.version}`;
}

function stampPath(binDir: string, binary: GoBinary): string {
  return join(binDir, `${binary.name}.version`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** True when bin/<name> exists and its stamp names the pinned module@version. */
export async function goBinaryInstalled(binDir: string, binary: GoBinary): Promise<boolean> {
  if (!(await exists(join(binDir, binary.name)))) return false;
  const stamp = await readFile(stampPath(binDir, binary), 'utf8').catch(() => '');
  return stamp.trim() === pin(binary);
}

/**
 * A binary without a stamp (built by hand, or by an older lab) is adopted when the module
 * version Go recorded in it matches the pin, so it is not rebuilt for nothing.
 */
async function adoptUnstamped(binDir: string, binary: GoBinary): Promise<boolean> {
  const path = join(binDir, binary.name);
  if (!(await exists(path))) return false;
  try {
    const info = await runCaptured('go', ['version', '-m', path], { timeoutMs: 30_000 });
    const main = info.split('\n').find((line) => line.trim().startsWith('mod\t') || line.trim().startsWith('mod '));
    const [, module, version] = main?.trim().split(/\s+/) ?? [];
    if (module !== binary.module || version !== binary.version) return false;
  } catch {
    return false;
  }
  await writeFile(stampPath(binDir, binary), `${pin(binary)}\n`);
  return true;
}

export async function installGoBinary(
  binDir: string,
  binary: GoBinary,
  server: { name: string },
  log: LabLog,
): Promise<void> {
  if (await goBinaryInstalled(binDir, binary)) return;
  await requireTools({ go: `to build ${binary.name}` });
  if (await adoptUnstamped(binDir, binary)) return;

  const logPath = join(binDir, `${binary.name}.build.log`);
  // Build into a scratch GOBIN and rename: a running server's binary is never half-written.
  const scratch = join(binDir, `.build-${binary.name}-${process.pid}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  await writeFile(logPath, `--- ${new Date().toISOString()} go install ${pin(binary)}\n`);
  log(`building ${binary.name} (${pin(binary)}); a cold build takes minutes (log: ${logPath})`);
  const build = (extra: Record<string, string>) =>
    runLogged('go', ['install', pin(binary)], {
      logPath,
      env: { CGO_ENABLED: '0', GOBIN: scratch, ...extra },
      cwd: binDir,
      timeoutMs: 30 * 60_000,
    });
  try {
    let result = await build({});
    if (result.code !== 0 && !result.timedOut) {
      const output = await readFile(logPath, 'utf8').catch(() => '');
      if (/verifying|checksum|sum\.golang\.org|SECURITY ERROR/i.test(output)) {
        log(`module verification failed for ${binary.name}; retrying with GOSUMDB=off`);
        result = await build({ GOSUMDB: 'off' });
      }
    }
    if (result.code !== 0) {
      const why = result.timedOut ? 'timed out' : `exited with ${result.code ?? result.signal}`;
      throw new MovingDataError(
        'unavailable',
        `lab ${server.name}: go install ${pin(binary)} ${why}\n  log: ${logPath}\n  last lines:\n${await logTail(logPath)}`,
        { details: { server: server.name, logPath } },
      );
    }
    await rename(join(scratch, binary.name), join(binDir, binary.name));
    await writeFile(stampPath(binDir, binary), `${pin(binary)}\n`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
