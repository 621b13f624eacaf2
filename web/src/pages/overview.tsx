/**
 * Overview: every dependency's health, objects and bytes per location and tier, the monthly
 * cost now and the projected saving, drift by kind, open alerts, and the live feed's events and
 * MiB per second in and out. Marks `overview-data-painted` (Performance API) once the first
 * answers are on screen (the cost, computed over every file, follows on its own): what the bench
 * measures as time to interactive.
 */
import { lazy, Suspense, useEffect, useRef } from 'react';
import { useLiveThroughput } from '../api/live.ts';
import type { TieringCosts } from '../api/ops-types.ts';
import type { AlertPage, ConsistencyStatus, Health, InventorySummary } from '../api/types.ts';
import { DriftKinds, lastScanOf } from '../components/drift.tsx';
import { formatUsd } from '../components/inventory-format.ts';
import { Panel, StatusBadge } from '../components/panel.tsx';
import { formatAgo, formatBytes, formatCount } from '../format.ts';
import { Link } from '../router.ts';
import { useSession } from '../session.tsx';
import { useApi } from '../use-api.ts';
import { useOps } from '../use-ops.ts';

const ThroughputChart = lazy(() => import('../components/throughput-chart.tsx'));

export const OVERVIEW_PAINTED = 'overview-data-painted';
const REFRESH_MS = 10_000;
/** The cost estimate prices every file: refreshed less often than the rest. */
const COST_REFRESH_MS = 60_000;
const MIB = 1024 * 1024;

const STATES = ['verified', 'pending', 'writing', 'failed'] as const;

export function Overview() {
  const { client, me } = useSession();
  const operator = me.can.view_operations;
  const health = useApi(() => client.health(), 'health', REFRESH_MS);
  const inventory = useApi(() => client.inventory(), 'inventory', REFRESH_MS);
  const ops = useOps();
  const costs = useApi(() => ops.costs(), 'costs', COST_REFRESH_MS);
  const consistency = useApi(operator ? () => client.consistencyStatus() : null, 'consistency', REFRESH_MS);
  const throughput = useLiveThroughput(client.liveUrl());
  const alerts = useApi(operator ? () => client.alerts({ state: 'open', limit: 5 }) : null, `alerts-${throughput.alertSeq}`, REFRESH_MS);

  // Once, when every panel the caller sees has its first answer (or error) on screen.
  const marked = useRef(false);
  const settled = [health, inventory, ...(operator ? [consistency, alerts] : [])].every((s) => !s.loading);
  useEffect(() => {
    if (!settled || marked.current) return;
    marked.current = true;
    requestAnimationFrame(() => performance.mark(OVERVIEW_PAINTED));
  }, [settled]);

  return (
    <div className="page">
      <h1>Overview</h1>
      <div className="grid">
        <Panel id="health" title="Health" state={health} actions={health.data === undefined ? null : <StatusBadge status={health.data.status} />}>
          {(data: Health) => <HealthTable health={data} />}
        </Panel>
        <Panel id="storage" title="Storage by location" state={inventory}>
          {(data: InventorySummary) => <StorageTable summary={data} />}
        </Panel>
        <Panel id="cost" title="Monthly cost" state={costs} actions={<Link to="/ui/policies">Tiering</Link>}>
          {(data: TieringCosts) => <CostTable costs={data} />}
        </Panel>
        {operator ? (
          <Panel id="drift" title="Drift" state={consistency}>
            {(data: ConsistencyStatus) => <DriftList status={data} />}
          </Panel>
        ) : (
          <NotForRoles id="drift" title="Drift" roles={me.roles} />
        )}
        {operator ? (
          <Panel id="open-alerts" title="Open alerts" state={alerts} actions={<Link to="/ui/alerts">All alerts</Link>}>
            {(data: AlertPage) => <OpenAlerts page={data} health={health.data} />}
          </Panel>
        ) : (
          <NotForRoles id="open-alerts" title="Open alerts" roles={me.roles} />
        )}
        <Panel id="throughput" title="Live throughput" wide actions={<StatusBadge status={throughput.state === 'open' ? 'open-feed' : throughput.state} />}>
          {() => (
            <>
              <div className="figures">
                <p className="figure">
                  <span className="figure-value">{formatCount(throughput.lastSecond)}</span> events/s
                </p>
                <p className="figure">
                  <span className="figure-value">{formatRate(throughput.bytes.in)}</span> MiB/s in
                </p>
                <p className="figure">
                  <span className="figure-value">{formatRate(throughput.bytes.out)}</span> MiB/s out
                </p>
              </div>
              <Suspense fallback={<p className="muted">Loading the chart…</p>}>
                <div className="charts-pair">
                  <ThroughputChart throughput={throughput} />
                  <ThroughputChart throughput={throughput} mode="bytes" />
                </div>
              </Suspense>
              <p className="muted small">
                From the live feed (GET /stream/live): {operator ? 'access events at your locations, sensor readings and alerts' : 'access events at your locations'}; MiB/s in are writes, out completed reads (averaged over 10 s).
              </p>
            </>
          )}
        </Panel>
      </div>
    </div>
  );
}

function NotForRoles({ id, title, roles }: { readonly id: string; readonly title: string; readonly roles: readonly string[] }) {
  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <p className="muted">Needs the admin, operations or system role; yours: {roles.join(', ')}.</p>
    </section>
  );
}

function HealthTable({ health }: { readonly health: Health }) {
  return (
    <div className="table-scroll">
    <table>
      <caption className="sr-only">Dependencies and their status</caption>
      <thead>
        <tr>
          <th scope="col">Dependency</th>
          <th scope="col" className="hide-narrow">
            Kind
          </th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Latency
          </th>
        </tr>
      </thead>
      <tbody>
        {health.dependencies.map((d) => (
          <tr key={d.name}>
            <th scope="row">{d.name}</th>
            <td className="hide-narrow">{d.kind}</td>
            <td>
              <StatusBadge status={d.status} />
              {d.error === undefined ? null : <span className="small muted"> {d.error.message}</span>}
            </td>
            <td className="num">{d.latency_ms.toFixed(1)} ms</td>
          </tr>
        ))}
      </tbody>
    </table>
    </div>
  );
}

function StorageTable({ summary }: { readonly summary: InventorySummary }) {
  if (summary.locations.length === 0) return <p className="muted">None of your roles opens a location.</p>;
  return (
    <div className="table-scroll">
    <table>
      <caption className="sr-only">Objects and bytes per location</caption>
      <thead>
        <tr>
          <th scope="col">Location</th>
          <th scope="col" className="num">
            Objects
          </th>
          <th scope="col" className="num">
            Bytes
          </th>
          <th scope="col">Copies by state</th>
          <th scope="col">By tier</th>
        </tr>
      </thead>
      <tbody>
        {summary.locations.map((l) => (
          <tr key={l.location}>
            <th scope="row">{l.location}</th>
            <td className="num">{formatCount(l.objects)}</td>
            <td className="num">{formatBytes(l.bytes)}</td>
            <td>
              {STATES.filter((s) => (l.by_state[s]?.objects ?? 0) > 0)
                .map((s) => `${formatCount(l.by_state[s]?.objects ?? 0)} ${s}`)
                .join(', ') || '—'}
            </td>
            <td>
              {Object.entries(l.by_tier)
                .filter(([, t]) => t.objects > 0)
                .map(([tier, t]) => `${formatCount(t.objects)} ${tier}`)
                .join(', ') || '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    </div>
  );
}

/** Average MiB/s over the last 10 complete seconds of a per-second byte series. */
function formatRate(perSecond: readonly number[]): string {
  const last = perSecond.slice(-10);
  const mib = last.reduce((sum, b) => sum + b, 0) / Math.max(1, last.length) / MIB;
  return mib === 0 ? '0' : mib < 0.01 ? '<0.01' : mib.toFixed(2);
}

function CostTable({ costs }: { readonly costs: TieringCosts }) {
  if (costs.locations.length === 0) return <p className="muted">None of your roles opens a location.</p>;
  return (
    <>
      <p className="figure">
        <span className="figure-value">{formatUsd(costs.total.monthly_cost)}</span> a month now
      </p>
      <p className="muted small">
        Projected saving of the tiering recommendations: <strong>{formatUsd(costs.total.projected_monthly_saving)}</strong> a month ({formatCount(costs.locations.reduce((n, l) => n + l.changes, 0))} changes).
      </p>
      <div className="table-scroll">
        <table>
          <caption className="sr-only">Estimated monthly cost per location and tier, and the projected saving</caption>
          <thead>
            <tr>
              <th scope="col">Location</th>
              <th scope="col" className="num">
                Now
              </th>
              <th scope="col">By tier</th>
              <th scope="col" className="num">
                Saving
              </th>
            </tr>
          </thead>
          <tbody>
            {costs.locations.map((l) => (
              <tr key={l.location}>
                <th scope="row">
                  {l.location} <span className="muted small">({l.provider})</span>
                </th>
                <td className="num">{formatUsd(l.monthly_cost)}</td>
                <td>
                  {Object.entries(l.tiers)
                    .map(([tier, t]) => `${tier} ${formatUsd(t.monthly_cost)}`)
                    .join(', ') || '—'}
                </td>
                <td className="num">{formatUsd(l.projected_monthly_saving)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">At {costs.currency} list prices of each location's provider (GET /tiering/costs).</p>
    </>
  );
}

function DriftList({ status }: { readonly status: ConsistencyStatus }) {
  const lastScan = lastScanOf(status);
  return (
    <>
      <DriftKinds status={status} />
      <p className="muted small">
        Retrying {formatCount(status.retries.retrying)}, dead-lettered {formatCount(status.retries.dead)}; last scan {formatAgo(lastScan)}.
      </p>
    </>
  );
}

function OpenAlerts({ page, health }: { readonly page: AlertPage; readonly health: Health | undefined }) {
  const open = health?.alerts.open;
  if (page.alerts.length === 0) return <p className="muted">No open alerts.</p>;
  return (
    <>
      {open === undefined ? null : (
        <p className="figure">
          <span className="figure-value">{formatCount(open)}</span> open
        </p>
      )}
      <ul className="alert-list">
        {page.alerts.map((a) => (
          <li key={a.id}>
            <StatusBadge status={a.severity} /> <strong>{a.kind}</strong> {a.subject}: {a.message} <span className="muted small">({formatAgo(a.last_at)})</span>
          </li>
        ))}
      </ul>
    </>
  );
}
