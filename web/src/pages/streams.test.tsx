// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ScoredReading, StreamingDetail } from '../api/ops-types.ts';
import type { Alert, Me } from '../api/types.ts';
import { SessionProvider } from '../session.tsx';
import { ADMIN, ANALYST, apiError, FakeApi } from '../testing/fake-api.ts';
import { Streams } from './streams.tsx';

// uPlot draws on a canvas happy-dom does not have: the charts are stand-ins that show their input.
vi.mock('../components/throughput-chart.tsx', () => ({ default: ({ throughput }: { throughput: { lastSecond: number } }) => <div data-testid="throughput-chart">{throughput.lastSecond}</div> }));
vi.mock('../components/sensor-chart.tsx', () => ({
  default: ({ device, readings }: { device: string; readings: readonly ScoredReading[] }) => <div data-testid={`sensor-chart-${device}`}>{readings.filter((r) => r.anomaly).length} flagged</div>,
}));

/** The live feed: the page's EventSource, events sent by the test. */
class FakeEventSource {
  static readonly CLOSED = 2;
  static last: FakeEventSource | undefined;
  readonly listeners = new Map<string, Set<() => void>>();
  readyState = 1;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeEventSource.last = this;
    setTimeout(() => this.onopen?.(), 0);
  }
  addEventListener(type: string, listener: () => void) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: () => void) {
    this.listeners.get(type)?.delete(listener);
  }
  emit(type: string, times = 1) {
    for (let i = 0; i < times; i += 1) for (const l of this.listeners.get(type) ?? []) l();
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
}

const now = Date.now();
const metrics: StreamingDetail = {
  bus: 'embedded',
  broker_reachable: true,
  producer_ready: true,
  producer_error: null,
  events_in: { 'access-events': { m1: 12.5, m5: 10, m15: 8 }, sensor_stream: { m1: 30, m5: 20, m15: 10 } },
  events_out: { 'access-events': { m1: 12, m5: 10, m15: 8 } },
  active_devices: 6,
  detectors_in_memory: 6,
  consumer_lag: { 'movingdata-telemetry.sensor_stream': 42, 'movingdata-access-stats.access-events': 0 },
  outbox: { depth: 3, oldest_age_s: 1.2 },
  relay: { shipped: 900, failures: 1, last_error: null, last_shipped_at: new Date(now).toISOString() },
  anomaly_threshold: 0.72,
  synthetic_load: true,
};

function reading(device: string, i: number, anomaly = false): ScoredReading {
  const ts = new Date(now - (100 - i) * 1000).toISOString();
  return { device_id: device, ts, value: anomaly ? 99 : 20 + (i % 3), anomaly_score: anomaly ? 0.97 : 0.1, anomaly, event_id: `${device}-${i}`, received_at: ts, scored_at: ts };
}

function anomalyAlert(device: string): Alert {
  const at = new Date().toISOString();
  return { id: device, kind: 'anomaly', subject: device, severity: 'critical', state: 'open', message: `anomalous reading 99 from ${device}`, details: {}, occurrences: 1, first_at: at, last_at: at, acked_at: null, acked_by: null, resolved_at: null };
}

function renderPage(fake: FakeApi, me: Me = ADMIN) {
  return render(
    <StrictMode>
      <SessionProvider value={{ client: fake.client, me, signOut: async () => undefined }}>
        <Streams />
      </SessionProvider>
    </StrictMode>,
  );
}

beforeEach(() => vi.stubGlobal('EventSource', FakeEventSource));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('the Streams page', () => {
  it('shows rates, devices, bus health, consumer lag, the sensors with flagged points and the latest readings', async () => {
    const fake = new FakeApi({
      'GET /streaming/metrics': () => metrics,
      'GET /stream/peek': () => ({ threshold: 0.72, events: [reading('sensor-a', 3, true), reading('sensor-a', 2), reading('sensor-b', 1), reading('sensor-b', 0)] }),
      'GET /alerts': () => ({ alerts: [], next_cursor: null }),
    });
    renderPage(fake);
    const rates = await screen.findByRole('region', { name: 'Events and devices' });
    await waitFor(() => expect(within(rates).getByTestId('active-devices').textContent).toBe('6'));
    expect(rates.textContent).toContain('42.5'); // in: 12.5 + 30 a second
    const health = screen.getByRole('region', { name: 'Bus health' });
    expect(within(health).getByRole('row', { name: /^Producer/ }).textContent).toContain('ok');
    expect(within(health).getByRole('row', { name: /^Outbox/ }).textContent).toContain('3 waiting');
    const lag = screen.getByRole('region', { name: 'Consumer lag' });
    expect(within(lag).getByRole('row', { name: /sensor_stream/ }).textContent).toContain('42');

    const sensors = screen.getByRole('region', { name: 'Sensors' });
    await waitFor(() => expect(within(sensors).getAllByRole('region').map((r) => r.getAttribute('aria-label'))).toEqual(['Device sensor-a', 'Device sensor-b']));
    expect(await within(sensors).findByTestId('sensor-chart-sensor-a')).toHaveProperty('textContent', '1 flagged');
    expect(within(sensors).getByText('1 flagged', { selector: 'strong' })).toBeTruthy();
    const peek = screen.getByRole('region', { name: 'Latest readings' });
    const rows = within(peek).getAllByRole('row');
    expect(rows).toHaveLength(5);
    expect(rows[1]!.className).toBe('flagged');
    expect(within(rows[1]!).getByText('flagged')).toBeTruthy();
    expect(fake.calls('GET /alerts')[0]?.query.get('kind')).toBe('anomaly');
  });

  it('sends a burst (with the CSRF header): the live figures follow the feed and the anomaly alerts are asked again', async () => {
    let burst = false;
    const fake = new FakeApi({
      'GET /streaming/metrics': () => metrics,
      'GET /stream/peek': () => ({ threshold: 0.72, events: [] }),
      'GET /alerts': () => ({ alerts: burst ? [anomalyAlert('burst-sensor-2')] : [], next_cursor: null }),
      'POST /simulate/burst': () => {
        burst = true;
        return { status: 202, body: { access_events: 250, readings: 250, warmup_readings: 40, anomalies_injected_on: ['burst-sensor-2', 'burst-sensor-3'], telemetry_error: null } };
      },
    });
    renderPage(fake);
    const alerts = await screen.findByRole('region', { name: 'Anomaly alerts' });
    await within(alerts).findByText('No open anomaly alerts.');
    expect(FakeEventSource.last?.url).toBe('http://dashboard.test/stream/live');

    fireEvent.click(screen.getByRole('button', { name: 'Send a burst' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Burst sent: 250 access events and 250 readings, anomalies injected on burst-sensor-2, burst-sensor-3.'));
    const [sent] = fake.calls('POST /simulate/burst');
    expect(sent?.body).toEqual({ events: 250 });
    expect(sent?.headers['x-csrf-token']).toBe('csrf-token-of-the-test');
    await within(alerts).findByText('burst-sensor-2');

    // The feed's events, counted a second at a time.
    const live = screen.getByTestId('live-window');
    expect(live.getAttribute('data-window-total')).toBe('0');
    act(() => FakeEventSource.last!.emit('access', 120));
    await waitFor(() => expect(live.getAttribute('data-window-total')).toBe('120'), { timeout: 3000 });
    // A later second: the minute's total adds up, the last second's figure is that second's.
    act(() => FakeEventSource.last!.emit('reading', 30));
    await waitFor(() => expect(live.getAttribute('data-window-total')).toBe('150'), { timeout: 3000 });
    const panel = screen.getByRole('region', { name: 'Live events per second' });
    expect(panel.textContent).toContain('150 in the last minute');
    expect(within(panel).getByTestId('throughput-chart').textContent).toBe('30');
  });

  it('says why a burst was refused', async () => {
    const fake = new FakeApi({
      'GET /streaming/metrics': () => metrics,
      'GET /stream/peek': () => ({ threshold: 0.72, events: [] }),
      'GET /alerts': () => ({ alerts: [], next_cursor: null }),
      'POST /simulate/burst': () => apiError(403, 'csrf_mismatch', 'a request signed in by the session cookie must carry x-csrf-token'),
    });
    renderPage(fake);
    fireEvent.click(await screen.findByRole('button', { name: 'Send a burst' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Could not send a burst: a request signed in by the session cookie must carry x-csrf-token (csrf_mismatch)'));
  });

  it('tells a caller without an operator role that streams are not theirs, and opens no feed', async () => {
    FakeEventSource.last = undefined;
    const fake = new FakeApi();
    renderPage(fake, ANALYST);
    expect(screen.getByText(/Streams need the admin, operations or system role; yours: analytics/)).toBeTruthy();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.asked).toEqual([]);
    expect(FakeEventSource.last).toBeUndefined();
  });
});
