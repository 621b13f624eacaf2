/**
 * Access events, schema version 1: what the outbox ships to TOPIC_ACCESS for every read, write,
 * delete, replicate, move, key use, tier change and denial (documented in the README).
 *
 *   { "schema": 1, "event_id": "…", "type": "write", "ts": "2026-12-02T10:00:00.000Z",
 *     "principal": "ana", "location": "aws", "key": "reports/q1.csv", "version": 3,
 *     "bytes": 4096, "latency_ms": null, "tier": null, "outcome": "allowed", "synthetic": false }
 *
 * A read emits two: `read.started`, in the audit entry's transaction (before the first byte),
 * and `read.completed` with bytes, latency and outcome when the stream ends (a crashed stream
 * leaves only the first). Records are keyed by the file key, so one file's events keep their
 * order; events without a key (token changes, exports) are keyed by the principal.
 */
import { randomUUID } from 'node:crypto';
import { decodeObject } from './telemetry.ts';
import type { JsonObject, NewAuditEntry, OutboxRecord } from '../metadata/index.ts';

export const ACCESS_EVENT_SCHEMA = 1;

export const ACCESS_EVENT_TYPES = [
  'read.started',
  'read.completed',
  'write',
  'delete',
  'replicate',
  'move',
  'tier.change',
  'key_use',
  'denied',
  'policy',
  'token_create',
  'token_revoke',
  'audit_export',
] as const;
export type AccessEventType = (typeof ACCESS_EVENT_TYPES)[number];

export interface AccessEvent {
  readonly schema: typeof ACCESS_EVENT_SCHEMA;
  readonly event_id: string;
  readonly type: AccessEventType | (string & {});
  readonly ts: string;
  readonly principal: string;
  readonly location: string | null;
  readonly key: string | null;
  readonly version: number | null;
  readonly bytes: number | null;
  readonly latency_ms: number | null;
  readonly tier: string | null;
  /** `allowed`, `denied` or `error` as audited; `ok` or `error` for a completed read. */
  readonly outcome: string;
  /** Made by the synthetic load generator, not by a real access. */
  readonly synthetic: boolean;
}

function numberOf(details: JsonObject | undefined, ...names: string[]): number | null {
  for (const name of names) {
    const value = details?.[name];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return null;
}

function typeOf(entry: NewAuditEntry): string {
  if (entry.action === 'read') return 'read.started';
  if (entry.action === 'policy') {
    const decision = entry.details?.['decision'];
    if (typeof decision === 'string' && decision.startsWith('tier:')) return 'tier.change';
  }
  return entry.action;
}

/** The access event reporting an audit entry. */
export function accessEventOf(entry: NewAuditEntry, now: Date = new Date()): AccessEvent {
  const decision = entry.details?.['decision'];
  return {
    schema: ACCESS_EVENT_SCHEMA,
    event_id: randomUUID(),
    type: typeOf(entry),
    ts: now.toISOString(),
    principal: entry.principal,
    location: entry.location ?? null,
    key: entry.objectKey ?? null,
    version: numberOf(entry.details, 'version'),
    bytes: numberOf(entry.details, 'size', 'bytes'),
    latency_ms: null,
    tier: typeof entry.details?.['tier'] === 'string' ? entry.details['tier'] : typeof decision === 'string' && decision.startsWith('tier:') ? decision.slice(5) : null,
    outcome: entry.outcome,
    synthetic: false,
  };
}

export interface ReadCompletion {
  readonly principal: string;
  readonly location: string;
  readonly key: string;
  readonly version: number | null;
  readonly bytes: number;
  readonly latencyMs: number;
  readonly outcome: 'ok' | 'error';
  readonly synthetic?: boolean;
}

export function readCompletedEvent(read: ReadCompletion, now: Date = new Date()): AccessEvent {
  return {
    schema: ACCESS_EVENT_SCHEMA,
    event_id: randomUUID(),
    type: 'read.completed',
    ts: now.toISOString(),
    principal: read.principal,
    location: read.location,
    key: read.key,
    version: read.version,
    bytes: read.bytes,
    latency_ms: Math.round(read.latencyMs * 1000) / 1000,
    tier: null,
    outcome: read.outcome,
    synthetic: read.synthetic ?? false,
  };
}

export function accessRecord(topic: string, event: AccessEvent): OutboxRecord {
  return { topic, key: event.key ?? `principal:${event.principal}`, value: JSON.stringify(event) };
}

/**
 * Decodes a record's value into an access event, or says why it cannot be one (the consumer
 * sets such records aside instead of crash-looping on them).
 */
export function decodeAccessEvent(value: string): AccessEvent | { readonly error: string } {
  const decoded = decodeObject(value);
  if (decoded.object === undefined) return { error: decoded.error };
  const e = decoded.object;
  if (e['schema'] !== ACCESS_EVENT_SCHEMA) return { error: `unknown schema ${JSON.stringify(e['schema'])}` };
  if (typeof e['event_id'] !== 'string' || e['event_id'] === '') return { error: 'event_id missing' };
  if (typeof e['type'] !== 'string') return { error: 'type missing' };
  if (typeof e['ts'] !== 'string' || Number.isNaN(Date.parse(e['ts']))) return { error: 'ts is not a timestamp' };
  if (typeof e['principal'] !== 'string') return { error: 'principal missing' };
  for (const name of ['location', 'key', 'tier'] as const) if (e[name] !== null && typeof e[name] !== 'string') return { error: `${name} must be a string or null` };
  for (const name of ['version', 'bytes', 'latency_ms'] as const) if (e[name] !== null && (typeof e[name] !== 'number' || !Number.isFinite(e[name]))) return { error: `${name} must be a number or null` };
  if (typeof e['outcome'] !== 'string') return { error: 'outcome missing' };
  if (typeof e['synthetic'] !== 'boolean') return { error: 'synthetic must be a boolean' };
  return e as unknown as AccessEvent;
}
