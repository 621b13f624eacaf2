/**
 * Metrics over HTTP, two ways:
 *
 * - `metricsPlugin`, a Fastify plugin registered without encapsulation (as fastify-plugin
 *   does), so its `onResponse` hook times every route of the instance: each request lands in
 *   `movingdata_http_request_duration_seconds` by method, route PATTERN (never the URL, which
 *   carries object keys) and status. It also serves `GET /metrics` on the API port, behind the
 *   API's own authentication (`config: { auth: true }`) for the admin, operations and system
 *   roles: the scrape names locations, topics and job kinds, which strangers need not see.
 * - `startMetricsListener`, an optional second listener for a Prometheus that cannot hold a
 *   token: unauthenticated, so bound to 127.0.0.1 only (`MOVINGDATA_METRICS_PORT`).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../access/policy.ts';
import { BEARER_SECURITY, authorizeRoles } from '../api/auth.ts';
import { EnvReader, type Env } from '../config/env.ts';
import type { Metrics } from './metrics.ts';

/** Who may scrape through the API: the operators' roles. */
export const METRICS_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, 'operations', SYSTEM_ROLE]);
export const METRICS_PATH = '/metrics';
export const METRICS_PORT_VARIABLE = 'MOVINGDATA_METRICS_PORT';

export interface MetricsPluginOptions {
  readonly metrics: Metrics;
}

const plugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, { metrics }) => {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    // `routeOptions.url` is the pattern the router matched (`/files/:location/*`); a request
    // no route matched has none, and its URL is never used in its place.
    metrics.observeRequest(request.method, request.is404 ? undefined : request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get(
    METRICS_PATH,
    {
      config: { auth: true },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics, in the text exposition format',
        description: 'HTTP requests, transfers per location, jobs, drift, outbox, events, consumer lag, anomalies, alerts and the process. Roles: admin, operations, system.',
        security: [...BEARER_SECURITY],
        response: {
          200: {
            description: 'The metrics (text/plain; version=0.0.4)',
            content: { 'text/plain': { schema: Type.String() } },
          },
        },
      },
    },
    async (request, reply) => {
      await authorizeRoles(request, METRICS_ROLES, { action: 'metrics_read' });
      const text = await metrics.scrape();
      return reply.type(metrics.contentType).send(text);
    },
  );
};

// What fastify-plugin does: no encapsulation, so the hook times sibling plugins' routes too.
export const metricsPlugin = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'movingdata-metrics',
});

export interface MetricsListener {
  /** The port it listens on (the one asked for, or the one the system picked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serve `GET /metrics` (and HEAD) without authentication on 127.0.0.1:`port` (0: any free
 * port). Only loopback: whoever can reach it can read the metrics.
 */
export async function startMetricsListener(metrics: Metrics, port: number): Promise<MetricsListener> {
  const server = createServer((request, response) => {
    void answer(metrics, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

async function answer(metrics: Metrics, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (path !== METRICS_PATH) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found; metrics are at ${METRICS_PATH}\n`);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('use GET\n');
    return;
  }
  try {
    const text = await metrics.scrape();
    response.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
    response.end(request.method === 'HEAD' ? undefined : text);
  } catch (err) {
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

/** `MOVINGDATA_METRICS_PORT`: the loopback listener's port, or undefined when it is not set. */
export function metricsPortFromEnv(env: Env = process.env): number | undefined {
  const read = new EnvReader(env);
  if (!read.isSet(METRICS_PORT_VARIABLE)) return undefined;
  return read.integer(METRICS_PORT_VARIABLE, 0, { min: 0, max: 65535 });
}
