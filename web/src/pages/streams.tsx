/**
 * Streams: events per second (live, from GET /stream/live, and the bus's 1-minute rates),
 * active devices, producer and broker health, consumer lag and the outbox; each device's scored
 * readings as a chart with its anomaly scores and flagged points; the latest readings as a
 * table; the open anomaly alerts; and the burst button (POST /simulate/burst). Operators only.
 */
import { lazy, Suspense, useMemo, useState } from 'react';
import { useLiveThroughput } from '../api/live.ts';
import type { Peek, ScoredReading, StreamingDetail } from '../api/ops-types.ts';
import type { AlertPage } from '../api/types.ts';
import { Panel, StatusBadge } from '../components/panel.tsx';
import { formatAgo, formatCount, formatTime } from '../format.ts';
import { Link } from '../router.ts';
import { useSession } from '../session.tsx';
import { useApi } from '../use-api.ts';
import { problemText, useOps } from '../use-ops.ts';
import '../ops.css';

const ThroughputChart = lazy(() => import('../components/throughput-chart.tsx'));
const SensorChart = lazy(() => import('../components/sensor-chart.tsx'));

const METRICS_MS = 3000;
const PEEK_MS = 2000;
const DEVICES_SHOWN = 4;
const PEEK_ROWS = 15;

function sumRates(rates: StreamingDetail['events_in']): number {
  return Object.values(rates).reduce((s, r) => s + r.m1, 0);
}

export function Streams() {
  const { client, me } = useSession();
  const ops = useOps();
  const allowed = me.can.view_operations;
  const metrics = useApi(allowed ? () => ops.streaming() : null, 'streaming', METRICS_MS);
  const peek = useApi(allowed ? () => ops.peek(500) : null, 'peek', PEEK_MS);
  const throughput = useLiveThroughput(allowed ? client.liveUrl() : null);
  const [burstSeq, setBurstSeq] = useState(0);
  const alerts = useApi(allowed ? () => client.alerts({ kind: 'anomaly', state: 'open', limit: 8 }) : null, `anomalies-${throughput.alertSeq}-${burstSeq}`, 10_000);
  const [bursting, setBursting] = useState(false);
  const [notice, setNotice] = useState('');

  const burst = async () => {
    setBursting(true);
    try {
      const reply = await ops.burst(250);
      setNotice(
        `Burst sent: ${formatCount(reply.access_events)} access events and ${formatCount(reply.readings)} readings` +
          (reply.anomalies_injected_on.length > 0 ? `, anomalies injected on ${reply.anomalies_injected_on.join(', ')}.` : '.') +
          (reply.telemetry_error === null ? '' : ` Readings stopped: ${reply.telemetry_error}.`),
      );
      setBurstSeq((n) => n + 1);
    } catch (err) {
      setNotice(`Could not send a burst: ${problemText(err)}`);
    } finally {
      setBursting(false);
    }
  };

  if (!allowed) {
    return (
      <div className="page">
        <h1>Streams</h1>
        <p className="muted">Streams need the admin, operations or system role; yours: {me.roles.join(', ')}.</p>
      </div>
    );
  }

  const windowTotal = Object.values(throughput.counts).reduce((s, series) => s + series.reduce((a, b) => a + b, 0), 0);
  return (
    <div className="page">
      <h1>Streams</h1>
      <div className="ops-toolbar">
        <button type="button" onClick={() => void burst()} disabled={bursting} aria-describedby="burst-help">
          {bursting ? 'Sending…' : 'Send a burst'}
        </button>
        <span id="burst-help" className="muted small">
          250 synthetic access events and sensor readings, with anomalies injected on a few devices.
        </span>
      </div>
      <p className={notice === '' ? 'sr-only' : 'notice'} role="status" aria-live="polite">
        {notice}
      </p>
      <div className="grid">
        <Panel id="stream-health" title="Bus health" state={metrics}>
          {(data: StreamingDetail) => <Health metrics={data} />}
        </Panel>
        <Panel id="stream-rates" title="Events and devices" state={metrics}>
          {(data: StreamingDetail) => <Rates metrics={data} live={throughput.lastSecond} />}
        </Panel>
        <Panel id="live-events" title="Live events per second" wide actions={<StatusBadge status={throughput.state === 'open' ? 'open-feed' : throughput.state} />}>
          {() => (
            <div data-testid="live-window" data-window-total={windowTotal}>
              <p className="figure">
                <span className="figure-value">{formatCount(throughput.lastSecond)}</span> events/s <span className="small">({formatCount(windowTotal)} in the last minute)</span>
              </p>
              <Suspense fallback={<p className="muted">Loading the chart…</p>}>
                <ThroughputChart throughput={throughput} />
              </Suspense>
            </div>
          )}
        </Panel>
        <Panel id="consumers" title="Consumer lag" state={metrics}>
          {(data: StreamingDetail) => <Lag metrics={data} />}
        </Panel>
        <Panel id="anomaly-alerts" title="Anomaly alerts" state={alerts} actions={<Link to="/ui/alerts">All alerts</Link>}>
          {(data: AlertPage) =>
            data.alerts.length === 0 ? (
              <p className="muted">No open anomaly alerts.</p>
            ) : (
              <ul className="alert-list">
                {data.alerts.map((a) => (
                  <li key={a.id}>
                    <StatusBadge status={a.severity} /> <strong className="ops-mono">{a.subject}</strong>: {a.message} <span className="muted small">({formatCount(a.occurrences)}×, {formatAgo(a.last_at)})</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Panel>
        <Panel id="sensors" title="Sensors" state={peek} wide>
          {(data: Peek) => <Sensors peek={data} />}
        </Panel>
        <Panel id="peek" title="Latest readings" state={peek} wide>
          {(data: Peek) => <PeekTable peek={data} />}
        </Panel>
      </div>
    </div>
  );
}

function Health({ metrics }: { readonly metrics: StreamingDetail }) {
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">Producer, broker, relay and outbox</caption>
        <tbody>
          <tr>
            <th scope="row">Bus</th>
            <td>
              {metrics.bus} <StatusBadge status={metrics.broker_reachable ? 'ok' : 'error'} />
              {metrics.broker_detail === undefined ? null : <div className="small muted">{metrics.broker_detail}</div>}
            </td>
          </tr>
          <tr>
            <th scope="row">Producer</th>
            <td>
              <StatusBadge status={metrics.producer_ready ? 'ok' : 'error'} />
              {metrics.producer_error === null ? null : <div className="small problem">{metrics.producer_error}</div>}
            </td>
          </tr>
          <tr>
            <th scope="row">Outbox</th>
            <td>
              {metrics.outbox.depth === null ? '—' : formatCount(metrics.outbox.depth)} waiting
              {metrics.outbox.oldest_age_s > 0 ? <span className="small muted">, oldest {metrics.outbox.oldest_age_s.toFixed(0)} s</span> : null}
            </td>
          </tr>
          <tr>
            <th scope="row">Relay</th>
            <td>
              {metrics.relay === null ? (
                'not in this process'
              ) : (
                <>
                  {formatCount(metrics.relay.shipped)} shipped, {formatCount(metrics.relay.failures)} failures
                  {metrics.relay.last_shipped_at === null ? null : <span className="small muted"> (last {formatAgo(metrics.relay.last_shipped_at)})</span>}
                  {metrics.relay.last_error === null ? null : <div className="small problem">{metrics.relay.last_error}</div>}
                </>
              )}
            </td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

function Rates({ metrics, live }: { readonly metrics: StreamingDetail; readonly live: number }) {
  return (
    <>
      <dl className="ops-figures">
        <div className="ops-figure">
          <dt>In /s (1 min)</dt>
          <dd>{sumRates(metrics.events_in).toFixed(1)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Out /s (1 min)</dt>
          <dd>{sumRates(metrics.events_out).toFixed(1)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Live /s</dt>
          <dd>{formatCount(live)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Active devices</dt>
          <dd data-testid="active-devices">{formatCount(metrics.active_devices)}</dd>
        </div>
      </dl>
      <p className="muted small">
        Anomaly threshold {metrics.anomaly_threshold.toFixed(3)}; {formatCount(metrics.detectors_in_memory)} detectors in memory; synthetic load {metrics.synthetic_load ? 'on' : 'off'}.
      </p>
    </>
  );
}

function Lag({ metrics }: { readonly metrics: StreamingDetail }) {
  const entries = Object.entries(metrics.consumer_lag);
  const topics = [...new Set([...Object.keys(metrics.events_in), ...Object.keys(metrics.events_out)])].sort();
  return (
    <>
      {entries.length === 0 ? (
        <p className="muted">No consumer lag reported.</p>
      ) : (
        <div className="table-scroll">
          <table>
            <caption className="sr-only">Records each consumer group is behind</caption>
            <thead>
              <tr>
                <th scope="col">Consumer</th>
                <th scope="col" className="num">
                  Lag
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map(([name, lag]) => (
                <tr key={name}>
                  <th scope="row" className="ops-mono">
                    {name}
                  </th>
                  <td className="num">{lag > 0 ? <span className="badge badge-warn">{formatCount(lag)}</span> : formatCount(lag)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {topics.length === 0 ? null : (
        <p className="muted small">
          Per topic, in / out a second (1 min):{' '}
          {topics.map((t) => `${t} ${(metrics.events_in[t]?.m1 ?? 0).toFixed(1)} / ${(metrics.events_out[t]?.m1 ?? 0).toFixed(1)}`).join('; ')}.
        </p>
      )}
    </>
  );
}

function Sensors({ peek }: { readonly peek: Peek }) {
  const devices = useMemo(() => {
    const byDevice = new Map<string, ScoredReading[]>();
    for (const r of peek.events) {
      const list = byDevice.get(r.device_id) ?? [];
      list.push(r);
      byDevice.set(r.device_id, list);
    }
    // Devices with flagged readings first, then the busiest.
    return [...byDevice.entries()]
      .sort(([a, ra], [b, rb]) => Number(rb.some((r) => r.anomaly)) - Number(ra.some((r) => r.anomaly)) || rb.length - ra.length || a.localeCompare(b))
      .slice(0, DEVICES_SHOWN);
  }, [peek]);
  if (devices.length === 0) return <p className="muted">No sensor readings yet: send a burst, or POST /stream/event.</p>;
  return (
    <>
      <div className="ops-devices">
        {devices.map(([device, readings]) => {
          const flagged = readings.filter((r) => r.anomaly).length;
          const top = Math.max(...readings.map((r) => r.anomaly_score));
          return (
            <section key={device} className="ops-device" aria-label={`Device ${device}`}>
              <h3>{device}</h3>
              <p className="small muted">
                {formatCount(readings.length)} readings, {flagged === 0 ? 'none flagged' : <strong className="problem">{formatCount(flagged)} flagged</strong>}, highest score {top.toFixed(3)}
              </p>
              <Suspense fallback={<p className="muted">Loading the chart…</p>}>
                <SensorChart device={device} readings={readings} threshold={peek.threshold} />
              </Suspense>
            </section>
          );
        })}
      </div>
      <p className="muted small">The latest {formatCount(peek.events.length)} scored readings (GET /stream/peek); red points are flagged (score ≥ {peek.threshold.toFixed(3)}).</p>
    </>
  );
}

function PeekTable({ peek }: { readonly peek: Peek }) {
  const rows = peek.events.slice(0, PEEK_ROWS);
  if (rows.length === 0) return <p className="muted">No readings yet.</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">The latest scored readings, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col" className="hide-narrow">
              Time
            </th>
            <th scope="col" className="num">
              Value
            </th>
            <th scope="col" className="num">
              Score
            </th>
            <th scope="col">Anomaly</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.event_id ?? `${r.device_id}-${r.ts}-${i}`} className={r.anomaly ? 'flagged' : undefined}>
              <th scope="row" className="ops-mono ops-nowrap">
                {r.device_id}
              </th>
              <td className="hide-narrow">
                <time dateTime={r.ts}>{formatTime(r.ts)}</time>
              </td>
              <td className="num">{r.value.toFixed(2)}</td>
              <td className="num">{r.anomaly_score.toFixed(3)}</td>
              <td>{r.anomaly ? <span className="badge badge-bad">flagged</span> : <span className="muted">no</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
