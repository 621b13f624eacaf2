/**
 * The live feed (GET /stream/live, server-sent events) as events per second: a window of the
 * last `seconds` seconds, one point a second, counted by event type. The browser's EventSource
 * sends the session cookie and reconnects by itself after a network error.
 */
import { useEffect, useState } from 'react';
import type { LiveEventType } from './types.ts';

export type FeedState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface Throughput {
  /** Seconds since the epoch, oldest first. */
  readonly t: readonly number[];
  readonly counts: Readonly<Record<LiveEventType, readonly number[]>>;
  readonly state: FeedState;
  /** Events in the last complete second, all types. */
  readonly lastSecond: number;
  /** Bumped on each alert event, for views that reload their alerts. */
  readonly alertSeq: number;
  /** Bytes written (`write` events) and read (`read.completed`) per second, aligned with `t`. */
  readonly bytes: { readonly in: readonly number[]; readonly out: readonly number[] };
}

/** The bytes an access event moved, and which way: a write in, a completed read out. */
export function bytesOf(data: string): { readonly direction: 'in' | 'out'; readonly bytes: number } | undefined {
  try {
    const event = JSON.parse(data) as { type?: unknown; bytes?: unknown; outcome?: unknown };
    if (typeof event.bytes !== 'number' || event.bytes <= 0) return undefined;
    if (event.type === 'write') return { direction: 'in', bytes: event.bytes };
    if (event.type === 'read.completed') return { direction: 'out', bytes: event.bytes };
  } catch {
    // Not an access event we can read: counted, not measured.
  }
  return undefined;
}

const TYPES: readonly LiveEventType[] = ['access', 'reading', 'alert'];

/** A window of `seconds` zeros ending at `now` (seconds). */
export function emptyWindow(seconds: number, now: number): { t: number[]; counts: Record<LiveEventType, number[]> } {
  const t = Array.from({ length: seconds }, (_, i) => now - seconds + 1 + i);
  return { t, counts: { access: t.map(() => 0), reading: t.map(() => 0), alert: t.map(() => 0) } };
}

/** The window moved on to second `now`, with `tally` for the second that just ended. */
export function advance(window: { t: readonly number[]; counts: Readonly<Record<LiveEventType, readonly number[]>> }, now: number, tally: Readonly<Record<LiveEventType, number>>): { t: number[]; counts: Record<LiveEventType, number[]> } {
  const t = [...window.t.slice(1), now];
  const counts = Object.fromEntries(TYPES.map((type) => [type, [...window.counts[type].slice(1), tally[type]]])) as Record<LiveEventType, number[]>;
  return { t, counts };
}

export function useLiveThroughput(url: string | null, seconds = 60): Throughput {
  const [state, setState] = useState<FeedState>('connecting');
  const [series, setSeries] = useState(() => emptyWindow(seconds, Math.floor(Date.now() / 1000)));
  const [alertSeq, setAlertSeq] = useState(0);
  const [bytes, setBytes] = useState(() => ({ in: series.t.map(() => 0), out: series.t.map(() => 0) }));

  useEffect(() => {
    if (url === null || typeof EventSource === 'undefined') {
      setState('closed');
      return undefined;
    }
    const tally: Record<LiveEventType, number> = { access: 0, reading: 0, alert: 0 };
    const moved = { in: 0, out: 0 };
    const source = new EventSource(url);
    const count = (type: LiveEventType) => (event?: MessageEvent<unknown>) => {
      tally[type] += 1;
      if (type === 'alert') setAlertSeq((n) => n + 1);
      if (type === 'access' && typeof event?.data === 'string') {
        const m = bytesOf(event.data);
        if (m !== undefined) moved[m.direction] += m.bytes;
      }
    };
    const listeners = TYPES.map((type) => [type, count(type)] as const);
    for (const [type, listener] of listeners) source.addEventListener(type, listener);
    source.onopen = () => setState('open');
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    const timer = setInterval(() => {
      const snapshot = { ...tally };
      for (const type of TYPES) tally[type] = 0;
      const second = { ...moved };
      moved.in = 0;
      moved.out = 0;
      setSeries((window) => advance(window, Math.floor(Date.now() / 1000), snapshot));
      setBytes((b) => ({ in: [...b.in.slice(1), second.in], out: [...b.out.slice(1), second.out] }));
    }, 1000);
    return () => {
      clearInterval(timer);
      for (const [type, listener] of listeners) source.removeEventListener(type, listener);
      source.close();
    };
  }, [url]);

  const last = series.t.length - 1;
  const lastSecond = TYPES.reduce((sum, type) => sum + (series.counts[type][last] ?? 0), 0);
  return { t: series.t, counts: series.counts, state, lastSecond, alertSeq, bytes };
}
