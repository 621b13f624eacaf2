/**
 * Sensor telemetry on TOPIC_SENSOR (the seed's `sensor_stream`): one record per reading, keyed
 * by device, so a device's readings keep their order and reach the one consumer that holds its
 * detector.
 *
 *   { "schema": 1, "event_id": "…", "device_id": "sensor-7", "ts": "2015-01-02T03:04:05.000Z",
 *     "value": 21.4, "received_at": "2026-12-02T10:00:00.000Z", "synthetic": false }
 *
 * `POST /stream/event` takes one reading or a batch; `ts` is ISO 8601 or epoch milliseconds,
 * refused when it does not parse or lies more than 24 h ahead of the server's clock (the past is
 * fine: NAB's series are from 2011-2015).
 */
import { randomUUID } from 'node:crypto';
import { MovingDataError } from '../errors.ts';
import type { OutgoingRecord } from './port.ts';

export const SENSOR_EVENT_SCHEMA = 1;
/** Readings one request may carry. */
export const MAX_BATCH = 1000;
const MAX_FUTURE_MS = 24 * 3600 * 1000;
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export interface SensorEvent {
  readonly schema: typeof SENSOR_EVENT_SCHEMA;
  readonly event_id: string;
  readonly device_id: string;
  readonly ts: string;
  readonly value: number;
  readonly received_at: string;
  readonly synthetic: boolean;
}

export interface SensorInput {
  readonly device_id: string;
  readonly ts: string | number;
  readonly value: number;
}

function invalid(message: string, index: number | undefined): MovingDataError {
  return new MovingDataError('invalid_argument', index === undefined ? message : `event ${index}: ${message}`, { retryable: false, ...(index === undefined ? {} : { details: { index } }) });
}

/** A reading's timestamp as a Date, or the reason it is refused. */
export function parseReadingTime(ts: unknown, now: number): Date | string {
  let ms: number;
  if (typeof ts === 'number') {
    if (!Number.isFinite(ts) || !Number.isInteger(ts)) return 'ts must be an integer of epoch milliseconds or an ISO 8601 string';
    ms = ts;
  } else if (typeof ts === 'string') {
    // ISO 8601 with a date, and a time zone unless it is a date alone (Date.parse takes more).
    if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(ts)) return `ts '${ts.slice(0, 40)}' is not ISO 8601`;
    ms = Date.parse(ts.replace(' ', 'T'));
    if (Number.isNaN(ms)) return `ts '${ts.slice(0, 40)}' is not a valid date`;
  } else {
    return 'ts must be an ISO 8601 string or epoch milliseconds';
  }
  if (ms < -8.64e15 || ms > 8.64e15) return 'ts is out of range';
  if (ms > now + MAX_FUTURE_MS) return 'ts lies more than 24 h in the future';
  return new Date(ms);
}

/**
 * Validates a request body (one reading or `{"events": [...]}` or an array) into sensor
 * events; throws `invalid_argument` naming the first bad reading, so nothing is published.
 */
export function sensorEventsFrom(body: unknown, now = Date.now(), synthetic = false): SensorEvent[] {
  const list: unknown = Array.isArray(body) ? body : body !== null && typeof body === 'object' && 'events' in body ? body.events : [body];
  if (!Array.isArray(list)) throw invalid('events must be an array', undefined);
  if (list.length === 0) throw invalid('no events', undefined);
  if (list.length > MAX_BATCH) throw new MovingDataError('too_large', `at most ${MAX_BATCH} events a request, got ${list.length}`, { retryable: false });
  const receivedAt = new Date(now).toISOString();
  return list.map((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw invalid('must be an object with device_id, ts and value', index);
    const e = item as Record<string, unknown>;
    for (const name of Object.keys(e)) if (!['device_id', 'ts', 'value'].includes(name)) throw invalid(`unknown field '${name.slice(0, 40)}'`, index);
    if (typeof e['device_id'] !== 'string' || !DEVICE_ID.test(e['device_id'])) throw invalid('device_id must be 1-128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)', index);
    if (typeof e['value'] !== 'number' || !Number.isFinite(e['value'])) throw invalid('value must be a finite number', index);
    const at = parseReadingTime(e['ts'], now);
    if (typeof at === 'string') throw invalid(at, index);
    return { schema: SENSOR_EVENT_SCHEMA, event_id: randomUUID(), device_id: e['device_id'], ts: at.toISOString(), value: e['value'], received_at: receivedAt, synthetic };
  });
}

export function sensorRecord(topic: string, event: SensorEvent): OutgoingRecord {
  return { topic, key: event.device_id, value: JSON.stringify(event) };
}

/** A record value as a JSON object, or why it is not one; shared by the consumers' decoders. */
export function decodeObject(value: string): { readonly object: Record<string, unknown>; readonly error?: undefined } | { readonly object?: undefined; readonly error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { error: 'not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { error: 'not an object' };
  return { object: parsed as Record<string, unknown> };
}

export function decodeSensorEvent(value: string): SensorEvent | { readonly error: string } {
  const decoded = decodeObject(value);
  if (decoded.object === undefined) return { error: decoded.error };
  const e = decoded.object;
  if (e['schema'] !== SENSOR_EVENT_SCHEMA) return { error: `unknown schema ${JSON.stringify(e['schema'])}` };
  if (typeof e['event_id'] !== 'string' || typeof e['device_id'] !== 'string') return { error: 'event_id and device_id must be strings' };
  if (typeof e['value'] !== 'number' || !Number.isFinite(e['value'])) return { error: 'value must be a finite number' };
  if (typeof e['ts'] !== 'string' || Number.isNaN(Date.parse(e['ts']))) return { error: 'ts is not a timestamp' };
  if (typeof e['received_at'] !== 'string' || Number.isNaN(Date.parse(e['received_at']))) return { error: 'received_at is not a timestamp' };
  return { ...(e as unknown as SensorEvent), synthetic: e['synthetic'] === true };
}
