/**
 * Replication: drift by kind and per location with each location's last scan and last sync,
 * jobs by kind and state, retries and dead letters (a dead job can be retried: POST
 * /jobs/{id}/retry), recent conflicts and the latest jobs. "Scan now" scans every location
 * (POST /consistency/scan); each finding becomes a repair job, which the workers run, and the
 * next scan shows what is left. Operators only (GET /me `can.view_operations`).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ConsistencyDetail, JobItem, JobList, JobState } from '../api/ops-types.ts';
import { DriftKinds, lastScanOf } from '../components/drift.tsx';
import { Panel, StatusBadge } from '../components/panel.tsx';
import { formatAgo, formatBytes, formatCount, formatTime } from '../format.ts';
import { useSession } from '../session.tsx';
import { useApi } from '../use-api.ts';
import { problemText, useOps } from '../use-ops.ts';
import '../ops.css';

const REFRESH_MS = 5000;
const SCAN_POLL_MS = 500;
const SCAN_WAIT_MS = 120_000;
const JOB_STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'dead'];
const COUNT_COLUMNS = ['queued', 'running', 'retrying', 'stalled', 'succeeded', 'failed', 'dead'] as const;

export function Replication() {
  const { me } = useSession();
  const ops = useOps();
  const allowed = me.can.view_operations;
  const [generation, setGeneration] = useState(0);
  const reloadAll = useCallback(() => setGeneration((g) => g + 1), []);
  const status = useApi(allowed ? () => ops.consistency() : null, `status-${generation}`, REFRESH_MS);
  const dead = useApi(allowed ? () => ops.jobs({ state: 'dead', limit: 20 }) : null, `dead-${generation}`, REFRESH_MS);
  const [scanning, setScanning] = useState(false);
  const [deep, setDeep] = useState(false);
  const [notice, setNotice] = useState('');
  const [retrying, setRetrying] = useState<ReadonlySet<string>>(new Set());
  const mounted = useRef(true);
  // Set again on every mount: StrictMode mounts, unmounts and mounts again.
  useEffect(() => {
    mounted.current = true;
    return () => void (mounted.current = false);
  }, []);

  const scan = async () => {
    setScanning(true);
    setNotice('Scanning every location…');
    try {
      const submitted = await ops.scan({ deep });
      const deadline = Date.now() + SCAN_WAIT_MS;
      let jobs = submitted.jobs;
      while (mounted.current && jobs.some((j) => j.state === 'queued' || j.state === 'running') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, SCAN_POLL_MS));
        jobs = await Promise.all(jobs.map((j) => (j.state === 'queued' || j.state === 'running' ? ops.job(j.id) : Promise.resolve(j))));
      }
      const results = jobs.map((j) => j.result as { drift?: Record<string, number>; repairs_queued?: number } | null);
      const found = results.reduce((sum, r) => sum + Object.values(r?.drift ?? {}).reduce((a, b) => a + b, 0), 0);
      const repairs = results.reduce((sum, r) => sum + (r?.repairs_queued ?? 0), 0);
      const failed = jobs.filter((j) => j.state !== 'succeeded');
      setNotice(
        failed.length > 0
          ? `Scan did not finish everywhere: ${failed.map((j) => `job ${j.id} ${j.state}${j.last_error === null ? '' : ` (${j.last_error})`}`).join('; ')}.`
          : `Scan finished: ${formatCount(found)} ${found === 1 ? 'item' : 'items'} of drift, ${formatCount(repairs)} ${repairs === 1 ? 'repair' : 'repairs'} queued.`,
      );
    } catch (err) {
      setNotice(`Could not scan: ${problemText(err)}`);
    } finally {
      if (mounted.current) {
        setScanning(false);
        reloadAll();
      }
    }
  };

  const retry = async (job: JobItem) => {
    setRetrying((r) => new Set([...r, job.id]));
    try {
      const reply = await ops.retryJob(job.id);
      setNotice(`Job ${reply.job.id} (${reply.job.kind}) is ${reply.job.state} again, with fresh attempts.`);
    } catch (err) {
      setNotice(`Could not retry job ${job.id}: ${problemText(err)}`);
    } finally {
      setRetrying((r) => new Set([...r].filter((id) => id !== job.id)));
      reloadAll();
    }
  };

  if (!allowed) {
    return (
      <div className="page">
        <h1>Replication</h1>
        <p className="muted">Replication and drift need the admin, operations or system role; yours: {me.roles.join(', ')}.</p>
      </div>
    );
  }

  return (
    <div className="page">
      <h1>Replication</h1>
      <div className="ops-toolbar">
        <button type="button" onClick={() => void scan()} disabled={scanning} aria-describedby="scan-help">
          {scanning ? 'Scanning…' : 'Scan now'}
        </button>
        <label className="check">
          <input type="checkbox" checked={deep} onChange={(e) => setDeep(e.target.checked)} disabled={scanning} /> Deep (read each copy's header)
        </label>
        <button type="button" className="secondary" onClick={reloadAll}>
          Refresh
        </button>
        <span id="scan-help" className="muted small">
          Each finding becomes a repair job from the last verified copy; scan again to see what is left.
        </span>
      </div>
      <p className={notice === '' ? 'sr-only' : 'notice'} role="status" aria-live="polite">
        {notice}
      </p>
      <div className="grid">
        <Panel id="drift" title="Drift" state={status}>
          {(data: ConsistencyDetail) => <DriftSummary status={data} />}
        </Panel>
        <Panel id="retries" title="Retries and dead letters" state={dead}>
          {(data: JobList) => <DeadLetters list={data} status={status.data} busy={retrying} onRetry={(job) => void retry(job)} />}
        </Panel>
        <Panel id="locations" title="Drift per location" state={status} wide>
          {(data: ConsistencyDetail) => <LocationTable status={data} />}
        </Panel>
        <Panel id="job-counts" title="Jobs by kind and state" state={status} wide>
          {(data: ConsistencyDetail) => <JobCounts counts={data.jobs} />}
        </Panel>
        <Panel id="conflicts" title="Recent conflicts" state={status} wide>
          {(data: ConsistencyDetail) => <Conflicts status={data} />}
        </Panel>
        <RecentJobs generation={generation} kinds={Object.keys(status.data?.jobs ?? {})} />
      </div>
    </div>
  );
}

function DriftSummary({ status }: { readonly status: ConsistencyDetail }) {
  const lastScan = lastScanOf(status);
  return (
    <>
      <DriftKinds status={status} />
      <p className="muted small">
        From each location's latest scan; last scan {lastScan === null ? 'never' : <time dateTime={lastScan} title={formatTime(lastScan)}>{formatAgo(lastScan)}</time>}.
      </p>
    </>
  );
}

function LocationTable({ status }: { readonly status: ConsistencyDetail }) {
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">Drift, objects, last scan and last successful sync per location</caption>
        <thead>
          <tr>
            <th scope="col">Location</th>
            <th scope="col" className="num">
              Objects
            </th>
            <th scope="col" className="num">
              Drift
            </th>
            <th scope="col">By kind</th>
            <th scope="col">Last scan</th>
            <th scope="col">Last sync</th>
          </tr>
        </thead>
        <tbody>
          {status.locations.map((l) => {
            const total = l.drift === null ? null : Object.values(l.drift).reduce((a, b) => a + b, 0);
            const kinds = l.drift === null ? [] : Object.entries(l.drift).filter(([, n]) => n > 0);
            return (
              <tr key={l.location}>
                <th scope="row">{l.location}</th>
                <td className="num">{l.objects === null ? '—' : formatCount(l.objects)}</td>
                <td className="num">{total === null ? '—' : total === 0 ? <StatusBadge status="ok" /> : <span className="badge badge-bad">{formatCount(total)}</span>}</td>
                <td>{kinds.length === 0 ? '—' : kinds.map(([k, n]) => `${formatCount(n)} ${k.replaceAll('_', ' ')}`).join(', ')}</td>
                <td>{l.last_scan_at === null ? 'never' : <time dateTime={l.last_scan_at} title={formatTime(l.last_scan_at)}>{formatAgo(l.last_scan_at)}</time>}</td>
                <td>{l.last_successful_sync === null ? 'never' : <time dateTime={l.last_successful_sync} title={formatTime(l.last_successful_sync)}>{formatAgo(l.last_successful_sync)}</time>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function JobCounts({ counts }: { readonly counts: ConsistencyDetail['jobs'] }) {
  const kinds = Object.keys(counts).sort();
  if (kinds.length === 0) return <p className="muted">No jobs yet.</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">Jobs by kind and state</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            {COUNT_COLUMNS.map((c) => (
              <th key={c} scope="col" className="num">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {kinds.map((kind) => (
            <tr key={kind}>
              <th scope="row">{kind}</th>
              {COUNT_COLUMNS.map((c) => {
                const n = counts[kind]?.[c] ?? 0;
                return (
                  <td key={c} className="num">
                    {n > 0 && (c === 'dead' || c === 'failed' || c === 'stalled') ? <span className="badge badge-bad">{formatCount(n)}</span> : formatCount(n)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DeadLetters({ list, status, busy, onRetry }: { readonly list: JobList; readonly status: ConsistencyDetail | undefined; readonly busy: ReadonlySet<string>; readonly onRetry: (job: JobItem) => void }) {
  return (
    <>
      <dl className="ops-figures">
        <div className={`ops-figure${(status?.retries.retrying ?? 0) > 0 ? ' bad' : ''}`}>
          <dt>Retrying</dt>
          <dd>{status === undefined ? '—' : formatCount(status.retries.retrying)}</dd>
        </div>
        <div className={`ops-figure${(status?.retries.dead ?? 0) > 0 ? ' bad' : ''}`}>
          <dt>Dead-lettered</dt>
          <dd>{status === undefined ? '—' : formatCount(status.retries.dead)}</dd>
        </div>
      </dl>
      {list.jobs.length === 0 ? (
        <p className="muted">No dead jobs: nothing has used up its attempts.</p>
      ) : (
        <ul className="alert-list" aria-label="Dead jobs">
          {list.jobs.map((j) => (
            <li key={j.id} className="ops-actions">
              <span>
                <strong>
                  {j.kind} #{j.id}
                </strong>{' '}
                {j.location === null ? null : <span className="muted">{j.location}</span>} {j.subject === null ? null : <span className="ops-mono small">{j.subject}</span>}
                <span className="small problem"> {j.last_error ?? 'no error recorded'}</span>{' '}
                <span className="muted small">
                  ({j.attempts}/{j.max_attempts} attempts, {formatAgo(j.finished_at)})
                </span>
              </span>
              <button type="button" onClick={() => onRetry(j)} disabled={busy.has(j.id)} aria-label={`Retry ${j.kind} job ${j.id}`}>
                {busy.has(j.id) ? 'Retrying…' : 'Retry'}
              </button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Conflicts({ status }: { readonly status: ConsistencyDetail }) {
  if (status.recent_conflicts.length === 0) return <p className="muted">No conflicts in the latest scans: no location holds an object the metadata does not expect there.</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">Conflicts the latest scans found</caption>
        <thead>
          <tr>
            <th scope="col">Location</th>
            <th scope="col">Key</th>
            <th scope="col">What</th>
            <th scope="col" className="num">
              Stored
            </th>
            <th scope="col">Stored at</th>
          </tr>
        </thead>
        <tbody>
          {status.recent_conflicts.map((c) => (
            <tr key={`${c.location}/${c.key}`}>
              <td>{c.location}</td>
              <th scope="row" className="ops-mono">
                {c.key}
              </th>
              <td>{c.detail}</td>
              <td className="num">{c.stored_size === null ? '—' : formatBytes(c.stored_size)}</td>
              <td>{c.stored_at === null ? '—' : formatTime(c.stored_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const JOB_TONES: Readonly<Record<string, string>> = { succeeded: 'good', queued: 'info', running: 'warn', failed: 'bad', dead: 'bad' };

/** A job's state as a word with a colour (the word carries the meaning). */
export function JobStateBadge({ state }: { readonly state: string }) {
  return <span className={`badge badge-${JOB_TONES[state] ?? 'info'}`}>{state}</span>;
}

type Listing = { readonly jobs: readonly JobItem[]; readonly next: string | null };

function RecentJobs({ generation, kinds }: { readonly generation: number; readonly kinds: readonly string[] }) {
  const ops = useOps();
  const [kind, setKind] = useState('');
  const [state, setState] = useState<JobState | ''>('');
  const [listing, setListing] = useState<Listing | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  const load = useCallback(
    async (cursor?: string) => {
      try {
        const page = await ops.jobs({ limit: 25, ...(kind === '' ? {} : { kind }), ...(state === '' ? {} : { state }), ...(cursor === undefined ? {} : { cursor }) });
        setListing((before) => ({ jobs: cursor === undefined ? page.jobs : [...(before?.jobs ?? []), ...page.jobs], next: page.next_cursor }));
        setError(undefined);
      } catch (err) {
        setError(problemText(err));
      }
    },
    [ops, kind, state],
  );

  useEffect(() => {
    void load();
  }, [load, generation]);

  return (
    <section className="card wide" aria-labelledby="recent-jobs-title" aria-busy={listing === undefined && error === undefined}>
      <header className="card-head">
        <h2 id="recent-jobs-title">Recent jobs</h2>
      </header>
      <div className="ops-filters">
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">All kinds</option>
            {[...new Set([...kinds, kind].filter((k) => k !== ''))].sort().map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.target.value as JobState | '')}>
            <option value="">All states</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error !== undefined ? (
        <div className="problem" role="alert">
          <p>Could not load the jobs: {error}</p>
          <button type="button" onClick={() => void load()}>
            Try again
          </button>
        </div>
      ) : listing === undefined ? (
        <p className="muted skeleton">Loading…</p>
      ) : listing.jobs.length === 0 ? (
        <p className="muted">No jobs match.</p>
      ) : (
        <div className="table-scroll">
          <table>
            <caption className="sr-only">Jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">State</th>
                <th scope="col" className="hide-narrow">
                  On
                </th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Created</th>
                <th scope="col" className="hide-narrow">
                  Last error
                </th>
              </tr>
            </thead>
            <tbody>
              {listing.jobs.map((j) => (
                <tr key={j.id}>
                  <th scope="row">
                    {j.kind} #{j.id}
                  </th>
                  <td>
                    <JobStateBadge state={j.state} />
                  </td>
                  <td className="hide-narrow">
                    {j.location ?? ''} {j.subject === null ? null : <span className="ops-mono small">{j.subject}</span>}
                  </td>
                  <td className="num">
                    {j.attempts}/{j.max_attempts}
                  </td>
                  <td>
                    <time dateTime={j.created_at} title={formatTime(j.created_at)}>
                      {formatAgo(j.created_at)}
                    </time>
                  </td>
                  <td className="hide-narrow small">{j.last_error ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {listing?.next == null ? null : (
        <button type="button" className="secondary" onClick={() => void load(listing.next ?? undefined)}>
          Load more
        </button>
      )}
    </section>
  );
}
