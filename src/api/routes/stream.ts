/**
 * The seed's streaming endpoints, same paths, and alerts:
 *   POST /stream/event      one sensor reading or a batch (any token)
 *   GET  /stream/peek       the latest scored readings (operators: admin, system, operations)
 *   GET  /streaming/metrics events/s in and out, devices, producer and broker, lag, outbox (operators)
 *   GET  /stream/live       server-sent events: readings and alerts (operators), access events
 *                           of the caller's own locations (anyone)
 *   POST /simulate/burst    synthetic access events and readings with injected anomalies (operators)
 *   GET  /alerts            filter by state and kind, newest first, keyset pages (operators)
 *   POST /alerts/{id}/ack   acknowledge (operators)
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE, type AccessPolicy } from '../../access/policy.ts';
import { MovingDataError } from '../../errors.ts';
import { alertView } from '../../events/alerts.ts';
import { MAX_BURST, type EventService, type LiveEvent } from '../../events/service.ts';
import { MAX_BATCH } from '../../events/telemetry.ts';
import { ALERT_STATES, type MetadataStore } from '../../metadata/index.ts';
import { BEARER_SECURITY, authorizeRoles, requirePrincipal } from '../auth.ts';

export const OPERATOR_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, SYSTEM_ROLE, 'operations']);

export interface StreamRoutesOptions {
  readonly events: EventService;
  readonly metadata: MetadataStore;
  readonly policy: AccessPolicy;
}

const DEVICE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const Reading = Type.Object({ device_id: Type.String({ pattern: DEVICE_PATTERN }), ts: Type.Union([Type.String({ format: 'date-time', maxLength: 40 }), Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 })], { description: 'ISO 8601 or epoch milliseconds; at most 24 h ahead of the server clock' }), value: Type.Number() }, { additionalProperties: false });
const Rate = Type.Object({ m1: Type.Number(), m5: Type.Number(), m15: Type.Number() });
export const AlertView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  subject: Type.String(),
  severity: Type.String(),
  state: Type.String(),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  occurrences: Type.Integer(),
  first_at: Type.String(),
  last_at: Type.String(),
  acked_at: Type.Union([Type.String(), Type.Null()]),
  acked_by: Type.Union([Type.String(), Type.Null()]),
  resolved_at: Type.Union([Type.String(), Type.Null()]),
});

export const StreamingMetricsResponse = Type.Object({
  bus: Type.String(),
  broker_reachable: Type.Boolean(),
  broker_detail: Type.Optional(Type.String()),
  producer_ready: Type.Boolean(),
  producer_error: Type.Union([Type.String(), Type.Null()]),
  events_in: Type.Record(Type.String(), Rate),
  events_out: Type.Record(Type.String(), Rate),
  active_devices: Type.Integer(),
  detectors_in_memory: Type.Integer(),
  consumer_lag: Type.Record(Type.String(), Type.Number()),
  outbox: Type.Object({ depth: Type.Union([Type.Integer(), Type.Null()]), oldest_age_s: Type.Number() }),
  relay: Type.Union([Type.Object({ shipped: Type.Integer(), failures: Type.Integer(), last_error: Type.Union([Type.String(), Type.Null()]), last_shipped_at: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  anomaly_threshold: Type.Number(),
  synthetic_load: Type.Boolean(),
});

export const streamRoutes: FastifyPluginAsyncTypebox<StreamRoutesOptions> = async (app, { events, metadata, policy }) => {
  app.post(
    '/stream/event',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: 'Post one sensor reading or a batch to the telemetry topic (any token)',
        security: [...BEARER_SECURITY],
        body: Type.Union([Reading, Type.Array(Reading, { minItems: 1, maxItems: MAX_BATCH }), Type.Object({ events: Type.Array(Reading, { minItems: 1, maxItems: MAX_BATCH }) }, { additionalProperties: false })]),
        response: { 202: Type.Object({ accepted: Type.Integer(), event_ids: Type.Array(Type.String()) }) },
      },
    },
    async (request, reply) => {
      requirePrincipal(request);
      const published = await events.publishTelemetry(request.body);
      return reply.status(202).send({ accepted: published.length, event_ids: published.map((e) => e.event_id) });
    },
  );

  app.get(
    '/stream/peek',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: 'The latest scored readings, newest first (operators)',
        security: [...BEARER_SECURITY],
        querystring: Type.Object({ device: Type.Optional(Type.String({ pattern: DEVICE_PATTERN })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            threshold: Type.Number(),
            events: Type.Array(Type.Object({ device_id: Type.String(), ts: Type.String(), value: Type.Number(), anomaly_score: Type.Number(), anomaly: Type.Boolean(), event_id: Type.Union([Type.String(), Type.Null()]), received_at: Type.String(), scored_at: Type.String() })),
          }),
        },
      },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'stream_peek' });
      const rows = await metadata.sensorReadings.latest({ ...(request.query.device === undefined ? {} : { device: request.query.device }), limit: request.query.limit ?? 100 });
      return {
        threshold: events.threshold,
        events: rows.map((r) => ({ device_id: r.deviceId, ts: r.ts.toISOString(), value: r.value, anomaly_score: r.score, anomaly: r.flagged, event_id: r.eventId, received_at: r.receivedAt.toISOString(), scored_at: r.scoredAt.toISOString() })),
      };
    },
  );

  app.get(
    '/streaming/metrics',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: 'Events/s in and out (1/5/15 min), active devices, producer and broker, consumer lag, outbox depth and age (operators)',
        security: [...BEARER_SECURITY],
        response: { 200: StreamingMetricsResponse },
      },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'streaming_metrics' });
      return events.metrics();
    },
  );

  app.post(
    '/simulate/burst',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: 'A burst of synthetic access events and sensor readings, with injected anomalies (operators)',
        security: [...BEARER_SECURITY],
        body: Type.Object({ events: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BURST, default: 250 })) }, { additionalProperties: false }),
        response: {
          202: Type.Object({
            access_events: Type.Integer({ description: 'synthetic access events, through the outbox (kept while the bus is down)' }),
            readings: Type.Integer(),
            warmup_readings: Type.Integer({ description: 'readings first sent to burst devices without enough history' }),
            anomalies_injected_on: Type.Array(Type.String()),
            telemetry_error: Type.Union([Type.String(), Type.Null()], { description: 'why the readings stopped (the bus did not take them), or null' }),
          }),
        },
      },
    },
    async (request, reply) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'simulate_burst' });
      const result = await events.burst(request.body.events ?? 250);
      return reply.status(202).send({ access_events: result.accessEvents, readings: result.readings, warmup_readings: result.warmup, anomalies_injected_on: [...result.injected], telemetry_error: result.telemetryError });
    },
  );

  app.get(
    '/stream/live',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: "Server-sent events: scored readings and alerts (operators) and access events at the caller's locations",
        // An endless event stream: documented in the README, kept out of the generated contract.
        hide: true,
        security: [...BEARER_SECURITY],
        produces: ['text/event-stream'],
        response: { 200: { description: 'an event stream (text/event-stream)', type: 'string' } },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const operator = principal.roles.some((r) => OPERATOR_ROLES.includes(r));
      const visible = (event: LiveEvent): boolean => (event.type === 'access' ? event.location !== null && event.location !== undefined && policy.authorize(principal, event.location).allowed : operator);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      // Coalesce into at most ten writes a second; a slow client loses old events, not memory.
      let pending: LiveEvent[] = [];
      const onEvent = (event: LiveEvent) => {
        if (!visible(event)) return;
        pending.push(event);
        if (pending.length > 1000) pending = pending.slice(-1000);
      };
      const flush = setInterval(() => {
        if (pending.length === 0) return;
        const out = pending;
        pending = [];
        res.write(out.map((e) => `event: ${e.type}\ndata: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`).join(''));
      }, 100);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      events.live.on('event', onEvent);
      const stop = () => {
        clearInterval(flush);
        clearInterval(ping);
        events.live.off('event', onEvent);
      };
      res.once('close', stop);
      app.server.once('close', () => res.end());
    },
  );

  app.get(
    '/alerts',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: 'Alerts, newest first: filter by state and kind; page with `cursor` (operators)',
        security: [...BEARER_SECURITY],
        querystring: Type.Object(
          {
            state: Type.Optional(Type.Union(ALERT_STATES.map((s) => Type.Literal(s)))),
            kind: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,18}$', description: 'next_cursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ alerts: Type.Array(AlertView), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'alerts_list' });
      const limit = request.query.limit ?? 100;
      const alerts = await metadata.alerts.list({
        ...(request.query.state === undefined ? {} : { state: request.query.state }),
        ...(request.query.kind === undefined ? {} : { kind: request.query.kind }),
        ...(request.query.cursor === undefined ? {} : { afterId: request.query.cursor }),
        limit,
      });
      return { alerts: alerts.map(alertView), next_cursor: alerts.length === limit ? (alerts.at(-1)?.id ?? null) : null };
    },
  );

  app.post(
    '/alerts/:id/ack',
    {
      config: { auth: true },
      schema: {
        tags: ['streams'],
        summary: 'Acknowledge an alert (operators); it resolves when its condition clears',
        security: [...BEARER_SECURITY],
        params: Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,18}$' }) }),
        response: { 200: AlertView },
      },
    },
    async (request) => {
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'alert_ack' });
      const alert = await metadata.alerts.acknowledge(request.params.id, principal.name).catch((err: unknown) => {
        throw err instanceof MovingDataError ? err : new MovingDataError('internal', 'could not acknowledge', { retryable: true, cause: err });
      });
      return alertView(alert);
    },
  );
};
