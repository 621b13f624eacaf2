/**
 * GET /health: each dependency's status and latency, checked live and in parallel with a
 * bounded wait, so a hung provider shows as `timeout` instead of hanging the probe.
 */
import { Type, type Static } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app.ts';
import { MovingDataError, isMovingDataError } from '../../errors.ts';

const Dependency = Type.Object({
  name: Type.String({ description: 'metadata, events (the bus), or a storage location (aws, azure, gcp)' }),
  kind: Type.String({ description: 'pglite, postgres, kafka, embedded, s3, azure, gcs or local' }),
  status: Type.Union([Type.Literal('ok'), Type.Literal('error'), Type.Literal('timeout')]),
  latency_ms: Type.Number(),
  target: Type.Optional(Type.String({ description: 'bucket, container or database' })),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});

export const HealthResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')], {
    description: 'ok: everything answers; degraded: a storage location does not; down: the metadata store does not',
  }),
  version: Type.String(),
  uptime_s: Type.Number(),
  checked_at: Type.String({ format: 'date-time' }),
  dependencies: Type.Array(Dependency),
  alerts: Type.Object(
    { open: Type.Integer(), acknowledged: Type.Integer(), by_kind: Type.Record(Type.String(), Type.Integer({ description: 'live (open or acknowledged) alerts of this kind' })) },
    { description: "the seed's alert counts: live alerts, by state and by kind" },
  ),
});
type HealthResponse = Static<typeof HealthResponse>;
type DependencyStatus = Static<typeof Dependency>;

const CHECK_TIMEOUT_MS = 3000;

async function probe(name: string, kind: string, target: string | undefined, check: (signal: AbortSignal) => Promise<unknown>): Promise<DependencyStatus> {
  const started = performance.now();
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  const base = { name, kind, ...(target === undefined ? {} : { target }) };
  try {
    await Promise.race([
      check(signal),
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('timeout')), { once: true })),
    ]);
    return { ...base, status: 'ok', latency_ms: round(performance.now() - started) };
  } catch (err) {
    const latency = round(performance.now() - started);
    if (signal.aborted) return { ...base, status: 'timeout', latency_ms: latency, error: { code: 'unavailable', message: `no answer within ${CHECK_TIMEOUT_MS} ms` } };
    const code = isMovingDataError(err) ? err.code : 'internal';
    const message = err instanceof Error ? err.message : String(err);
    return { ...base, status: 'error', latency_ms: latency, error: { code, message } };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export const healthRoutes: FastifyPluginAsync<{ context: AppContext }> = async (app, { context }) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Status and latency of every dependency',
        response: { 200: HealthResponse, 503: HealthResponse },
      },
    },
    async (_request, reply) => {
      const checks: Array<Promise<DependencyStatus>> = [
        probe('metadata', context.metadata.kind, context.config.metadata.kind === 'pglite' ? 'embedded' : 'postgresql', () => context.metadata.ping()),
        ...[...context.stores.values()].map((store) => probe(store.location, store.provider, store.container, (signal) => store.ping(signal))),
        probe('events', context.events.bus.kind, context.config.kafka.bootstrap?.join(',') ?? 'metadata store', async () => {
          const health = await context.events.bus.health();
          if (!health.reachable) throw new MovingDataError('unavailable', health.detail ?? 'the event bus does not answer', { retryable: true });
        }),
      ];
      const counts = await context.metadata.alerts.counts().catch(() => []);
      const live = counts.filter((c) => c.state !== 'resolved');
      const alerts = {
        open: live.filter((c) => c.state === 'open').reduce((a, c) => a + c.count, 0),
        acknowledged: live.filter((c) => c.state === 'acknowledged').reduce((a, c) => a + c.count, 0),
        by_kind: live.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.kind]: (acc[c.kind] ?? 0) + c.count }), {}),
      };
      const dependencies = await Promise.all(checks);
      const metadataOk = dependencies[0]?.status === 'ok';
      const allOk = dependencies.every((d) => d.status === 'ok');
      const body: HealthResponse = {
        status: !metadataOk ? 'down' : allOk ? 'ok' : 'degraded',
        version: context.version,
        uptime_s: Math.round((Date.now() - context.startedAt.getTime()) / 1000),
        checked_at: new Date().toISOString(),
        dependencies,
        alerts,
      };
      return reply.status(metadataOk ? 200 : 503).send(body);
    },
  );
};
