/**
 * The HTTP tier: Fastify with TypeBox route schemas, an OpenAPI document generated from those
 * schemas, interactive docs at /docs, and one error handler (errors.ts).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { AppContext } from '../app.ts';
import { BEARER_SECURITY_SCHEME, authPlugin } from './auth.ts';
import { RouteMethods, markOptionalBodies, registerContract, validatorCompilers } from './contract.ts';
import { registerErrorHandling } from './errors.ts';
import { auditRoutes } from './routes/audit.ts';
import { demoRoutes } from './routes/demo.ts';
import { fileRoutes } from './routes/files.ts';
import { healthRoutes } from './routes/health.ts';
import { inventoryRoutes } from './routes/inventory.ts';
import { metricsPlugin } from '../observability/metrics-plugin.ts';
import { streamRoutes } from './routes/stream.ts';
import { keyRoutes } from './routes/keys.ts';
import { consistencyRoutes } from './routes/consistency.ts';
import { replicationRoutes } from './routes/replication.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { tieringRoutes } from './routes/tiering.ts';
import { sessionRoutes } from './routes/session.ts';
import { redactTokenParam } from './session-cookie.ts';
import { dashboardPlugin } from './static.ts';

export async function buildApi(context: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: context.config.server.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'], censor: '[redacted]' },
      // Fastify's own request fields, but the URL without a token: demo mode's sign-in link
      // (`/?token=...`) must not leave the token in the log.
      serializers: {
        req: (request: FastifyRequest) => ({ method: request.method, url: redactTokenParam(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort }),
      },
    },
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Object bodies stream through the file routes; JSON bodies stay small.
    bodyLimit: 1024 * 1024,
    // Keys up to 1024 bytes of UTF-8 arrive percent-encoded: up to 3 characters a byte.
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true,
    // Long keys and cursors travel in the URL, percent-encoded (up to 9 bytes a character): past
    // Node's 16 KiB default, a schema-valid request would be refused before its route sees it.
    http: { maxHeaderSize: 64 * 1024 },
    schemaController: { compilersFactory: validatorCompilers() },
    // A URL the router cannot decode: our error shape, not Fastify's.
    frameworkErrors: (error, request, reply: FastifyReply) => {
      void reply.code(400).send({ error: { code: 'invalid_argument', message: error.message, request_id: request.id } });
    },
    // What Node's HTTP parser refuses before Fastify sees a request (a malformed Content-Length,
    // headers over the size limit): answered in our error shape too, then the socket closes.
    clientErrorHandler: (err, socket) => {
      const code = (err as NodeJS.ErrnoException).code;
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = JSON.stringify({
        error: { code: status === 431 ? 'too_large' : 'invalid_argument', message: status === 431 ? 'request headers are too large' : `malformed request: ${code ?? err.message}`, request_id: randomUUID() },
      });
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      } else {
        socket.destroy();
      }
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const methods = new RouteMethods();
  registerContract(app, methods);
  registerErrorHandling(app, methods);

  await app.register(swagger, {
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      markOptionalBodies(document as Parameters<typeof markOptionalBodies>[0]);
      return document;
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'MovingData control plane',
        version: context.version,
        description: 'Stores, replicates, verifies, repairs and re-tiers encrypted objects across S3, Azure Blob and Google Cloud Storage.',
      },
      tags: [
        { name: 'operations', description: 'Health and service status' },
        { name: 'files', description: 'Objects at a location: streamed, encrypted, audited' },
        { name: 'access', description: 'API tokens and roles' },
        { name: 'audit', description: 'The tamper-evident audit trail' },
        { name: 'keys', description: 'Location encryption keys: list and rotate' },
        { name: 'replication', description: 'Replicate and move files between locations' },
        { name: 'streams', description: 'Telemetry, anomaly scores, streaming metrics, the live feed and alerts' },
        { name: 'tiering', description: 'Predictive tiering: recommendations, the model, runs and decisions, pins, costs' },
        { name: 'consistency', description: 'Drift scans, repairs and the job queue' },
      ],
      components: { securitySchemes: { bearerAuth: { ...BEARER_SECURITY_SCHEME } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(authPlugin, { metadata: context.metadata, audit: context.audit, policy: context.policy });
  await app.register(metricsPlugin, { metrics: context.metrics });
  await app.register(healthRoutes, { context });
  await app.register(inventoryRoutes, { metadata: context.metadata, policy: context.policy, prices: context.tiering });
  await app.register(fileRoutes, { files: context.files, transfers: context.metrics });
  await app.register(demoRoutes, { metadata: context.metadata, replicator: context.replicator });
  await app.register(replicationRoutes, { metadata: context.metadata, jobs: context.jobs, locations: [...context.stores.keys()] });
  await app.register(consistencyRoutes, { consistency: context.consistency, jobs: context.jobs, queue: context.metadata.jobs, audit: context.audit });
  await app.register(tokenRoutes, { metadata: context.metadata, audit: context.audit });
  await app.register(sessionRoutes, { metadata: context.metadata, policy: context.policy, providers: new Map([...context.stores.values()].map((s) => [s.location, s.provider])) });
  await app.register(auditRoutes, { audit: context.audit });
  await app.register(streamRoutes, { events: context.events, metadata: context.metadata, policy: context.policy });
  await app.register(tieringRoutes, { tiering: context.tiering, jobs: context.jobs, metadata: context.metadata, policy: context.policy });
  await app.register(keyRoutes, { keys: context.keys, stores: context.stores, audit: context.audit, jobs: context.jobs });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // The dashboard's page and files, last: all hidden from the document (src/api/static.ts).
  await app.register(dashboardPlugin, { metadata: context.metadata, demo: context.config.demo });
  return app;
}
