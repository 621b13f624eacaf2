/**
 * The lab's Python: a venv under <home>/python with pins from PyPI: `cryptography`, the library
 * the seed used for Fernet, so tests can check our tokens against it both ways, and
 * `schemathesis`, which fuzzes the API against its OpenAPI document (test/api/contract.test.ts);
 * neither touches the system's site-packages. A stamp names the pins: a matching stamp skips the
 * install, a pin change (or a vanished base interpreter) rebuilds the venv.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MovingDataError } from '../errors.ts';
import type { LabPaths } from './paths.ts';
import { logTail, type LabLog } from './server.ts';
import { requireTools, runLogged } from './system.ts';

/** What the venv holds, exactly as pip is asked for it. */
export const PYTHON_REQUIREMENTS = ['cryptography==50.0.2', 'schemathesis==4.32.5', 'scikit-learn==1.9.1'] as const;

function venvDir(paths: LabPaths): string {
  return join(paths.home, 'python');
}

function stampPath(paths: LabPaths): string {
  return join(venvDir(paths), 'requirements.stamp');
}

/** The venv's interpreter (LAB_PYTHON in the lab's settings). */
export function labPython(paths: LabPaths): string {
  return join(venvDir(paths), 'bin', 'python');
}

/** True when the interpreter runs from the venv (stat follows its symlink) and the stamp matches the pins. */
export async function labPythonInstalled(paths: LabPaths): Promise<boolean> {
  const present = await stat(labPython(paths)).then(
    () => true,
    () => false,
  );
  if (!present) return false;
  const stamp = await readFile(stampPath(paths), 'utf8').catch(() => '');
  return stamp.trim() === PYTHON_REQUIREMENTS.join(' ');
}

/** Creates the venv and installs the pins; idempotent. */
export async function installLabPython(paths: LabPaths, log: LabLog): Promise<void> {
  if (await labPythonInstalled(paths)) return;
  await requireTools({ python3: 'to create the lab Python venv used by the Fernet interop tests' });
  const dir = venvDir(paths);
  const logPath = join(paths.home, 'python-install.log');
  const pins = PYTHON_REQUIREMENTS.join(' ');
  await rm(dir, { recursive: true, force: true });
  await writeFile(logPath, `--- ${new Date().toISOString()} python3 -m venv ${dir}; pip install ${pins}\n`);
  log(`creating the lab Python venv with ${pins} (log: ${logPath})`);
  const venv = await runLogged('python3', ['-m', 'venv', dir], { logPath, timeoutMs: 5 * 60_000 });
  if (venv.code !== 0) {
    throw new MovingDataError(
      'config_invalid',
      `lab python: 'python3 -m venv' failed; Python's venv module is missing or broken. ` +
        `Install it (Debian: apt-get install -y python3-venv) and run 'lab install' again.\n` +
        `  log: ${logPath}\n  last lines:\n${await logTail(logPath)}`,
    );
  }
  const pip = await runLogged(
    labPython(paths),
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...PYTHON_REQUIREMENTS],
    { logPath, timeoutMs: 15 * 60_000 },
  );
  if (pip.code !== 0) {
    const why = pip.timedOut ? 'timed out' : `exited with ${pip.code ?? pip.signal}`;
    throw new MovingDataError('unavailable', `lab python: pip install ${pins} ${why}\n  log: ${logPath}\n  last lines:\n${await logTail(logPath)}`);
  }
  // Written last: a venv without it is rebuilt on the next install.
  await writeFile(stampPath(paths), `${pins}\n`);
}
