/**
 * The dashboard (web/, built by Vite into web/dist/) served by the control plane:
 *   GET /            the page; in demo mode `/?token=mdt_...` (the link `npm start` prints) signs
 *                    in at once: the token becomes the session cookie and a 303 strips it from
 *                    the address bar and the history
 *   GET /ui/*        the page's own routes (/ui/alerts, ...): the same page, which routes itself
 *   GET /assets/...  the built files, content-hashed, so cached for good; gzip and brotli
 *                    variants (written by the build) served to browsers that take them
 *
 * Every route here is hidden from the OpenAPI document: they are the page, not the API. The API's
 * paths never collide with these (nothing here is a catch-all outside /assets/ and /ui/), so API
 * routes keep their answers and their 404/405s.
 *
 * Without a build (web/dist/index.html missing) the API runs as ever and GET / says how to build.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMovingDataError } from '../errors.ts';
import type { MetadataStore } from '../metadata/index.ts';
import { startSession } from './routes/session.ts';

/** Where `npm run build -w web` puts the page. */
export const DASHBOARD_DIR = join(import.meta.dirname, '..', '..', 'web', 'dist');

export interface DashboardOptions {
  readonly metadata: Pick<MetadataStore, 'principals'>;
  /** Demo mode: the `/?token=` sign-in link works (elsewhere a token never travels in a URL). */
  readonly demo: boolean;
  /** The built page (default DASHBOARD_DIR). */
  readonly dir?: string;
}

/** For the page: only our own origin's scripts, no framing, no referrer leaving the page. */
const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
});

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>MovingData</title></head><body>
<h1>The dashboard is not built</h1><p>Build it with <code>npm run build -w web</code> (or <code>npm install</code>, which does it), then reload. The API is running: <a href="/docs">/docs</a>.</p></body></html>`;

export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, { metadata, demo, dir = DASHBOARD_DIR }) => {
  const built = existsSync(join(dir, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root: join(dir, 'assets'),
      // A catch-all under /assets/ only (no API path lives there): a rebuild while the server
      // runs serves its new files at once.
      prefix: '/assets/',
      index: false,
      preCompressed: true,
      setHeaders: (reply) => {
        void reply.header('x-content-type-options', 'nosniff');
        void reply.header('cache-control', 'public, max-age=31536000, immutable');
      },
    });
  } else {
    app.log.warn(`the dashboard is not built (no ${join(dir, 'index.html')}): run \`npm run build -w web\`; the API runs without it`);
  }

  const page = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    void reply.headers(PAGE_HEADERS);
    if (!built) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.sendFile('index.html', dir, { maxAge: 0, immutable: false });
  };

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const token = (request.query as Record<string, unknown>)['token'];
    if (token === undefined) return page(request, reply);
    void reply.header('referrer-policy', 'no-referrer').header('cache-control', 'no-store');
    if (!demo || typeof token !== 'string') return reply.redirect('/?signin=link_disabled', 303);
    try {
      await startSession(metadata, request, reply, token);
    } catch (err) {
      if (isMovingDataError(err) && err.code === 'unauthenticated') return reply.redirect('/?signin=invalid_token', 303);
      throw err;
    }
    return reply.redirect('/', 303);
  });
  app.get('/ui/*', { schema: { hide: true } }, page);
};
