/**
 * Builds the dashboard (web/ → web/dist/) when its sources changed since the last build, so
 * nobody has to remember to: `npm install`/`npm ci` (the root `prepare` script) and `npm start`
 * (`prestart`) run it, and so do the browser tests and the web bench before they load the page.
 *
 *   node web/scripts/build.ts            build if web/src, index.html, vite.config.ts or
 *                                        package.json changed (a fingerprint kept in web/dist/)
 *   node web/scripts/build.ts --force    build anyway
 *
 * Without Vite installed (`npm ci --omit=dev`) it says so and leaves things as they are: the
 * control plane then serves the API and a page saying how to build the dashboard.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

export const WEB_DIR = join(import.meta.dirname, '..');
export const DIST_DIR = join(WEB_DIR, 'dist');
const FINGERPRINT = join(DIST_DIR, '.fingerprint');
const INPUTS = ['index.html', 'vite.config.ts', 'package.json'];

async function sourceFiles(): Promise<string[]> {
  const entries = await readdir(join(WEB_DIR, 'src'), { withFileTypes: true, recursive: true });
  const sources = entries.filter((e) => e.isFile() && !/\.test\.tsx?$/.test(e.name)).map((e) => join(e.parentPath, e.name));
  return [...INPUTS.map((f) => join(WEB_DIR, f)), ...sources].sort();
}

/** A hash of every input of the build, by path and content. */
export async function fingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await sourceFiles()) hash.update(relative(WEB_DIR, file)).update('\0').update(await readFile(file)).update('\0');
  return hash.digest('hex');
}

export async function isUpToDate(): Promise<boolean> {
  if (!existsSync(join(DIST_DIR, 'index.html'))) return false;
  const kept = await readFile(FINGERPRINT, 'utf8').catch(() => '');
  return kept.trim() === (await fingerprint());
}

/** Run `vite build` for web/ (in a child process: Vite's own Node, logs on our stderr). */
export async function buildDashboard(log: (line: string) => void = (line) => console.error(line)): Promise<void> {
  let vite: string;
  try {
    // Its package exports no bin path: found from its package.json.
    vite = join(dirname(createRequire(join(WEB_DIR, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    throw new Error('vite is not installed (npm ci installs it: it is a devDependency of web/)');
  }
  const started = performance.now();
  // Always the production build: started from Vitest (NODE_ENV=test) Vite would bundle React's
  // development build, twice the size, into the dist the server then serves.
  const env = { ...process.env, NODE_ENV: 'production' };
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, env, maxBuffer: 16 * 1024 * 1024 });
  for (const line of `${stdout}${stderr}`.split('\n').filter((l) => l.trim() !== '')) log(`web: ${line}`);
  await writeFile(FINGERPRINT, `${await fingerprint()}\n`);
  log(`web: dashboard built into ${relative(process.cwd(), DIST_DIR) || DIST_DIR} in ${Math.round(performance.now() - started)} ms`);
}

/** Build unless web/dist/ is of the current sources; says which. */
export async function ensureDashboardBuilt(options: { readonly force?: boolean; readonly log?: (line: string) => void } = {}): Promise<'built' | 'up-to-date'> {
  if (options.force !== true && (await isUpToDate())) return 'up-to-date';
  await buildDashboard(options.log);
  return 'built';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const force = process.argv.includes('--force');
  try {
    const outcome = await ensureDashboardBuilt({ force });
    if (outcome === 'up-to-date') console.error('web: the dashboard in web/dist is up to date');
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith('vite is not installed') && !force) {
      console.error(`web: not building the dashboard: ${message}; the control plane will serve the API without it`);
    } else {
      console.error(`web: the dashboard did not build: ${message}`);
      process.exitCode = 1;
    }
  }
}
