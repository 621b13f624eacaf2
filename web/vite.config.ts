/**
 * Builds the dashboard into web/dist/, which the control plane serves at / (src/api/static.ts).
 * Beside each text file the build writes its gzip and brotli forms, so the server sends those
 * as they are (no compression per request); uPlot is loaded lazily, in a chunk of its own.
 *
 * `npm run dev -w web` serves the page with hot reload and passes the API's paths to a control
 * plane at MOVINGDATA_URL (default http://127.0.0.1:8001, what `npm start` runs).
 */
import react from '@vitejs/plugin-react';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const COMPRESSIBLE = /\.(js|css|html|svg|json)$/;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'movingdata-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir.startsWith('/') ? config.build.outDir : join(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = (await filesUnder(outDir)).filter((f) => COMPRESSIBLE.test(f));
      await Promise.all(
        files.map(async (file) => {
          const body = await readFile(file);
          await writeFile(`${file}.gz`, await promisify(gzip)(body, { level: 9 }));
          await writeFile(`${file}.br`, await promisify(brotliCompress)(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        }),
      );
    },
  };
}

// The control plane's paths, for the dev server's proxy (the built page needs none: same origin).
const API_PATHS = ['/health', '/me', '/session', '/inventory', '/files', '/consistency', '/jobs', '/alerts', '/stream', '/streaming', '/simulate', '/seed', '/storage_test', '/tokens', '/keys', '/audit', '/metrics', '/docs', '/openapi.json'];
const target = process.env['MOVINGDATA_URL'] ?? 'http://127.0.0.1:8001';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts or styles: the page's Content-Security-Policy allows only its own files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { proxy: Object.fromEntries(API_PATHS.map((path) => [path, { target, changeOrigin: false }])) },
});
