/**
 * One file's detail (GET /inventory/files/{location}/{key}): its copies with state, tier, cost,
 * encryption, checksums and the latest tiering decision; versions; access per day as a chart;
 * tiering decisions; the key's audit entries. Actions as the caller's roles allow at each
 * location (GET /me): download (a plain link, the session cookie authenticates it), replicate,
 * move, delete a copy (after a confirmation), each change with the CSRF header (the client).
 */
import { lazy, Suspense, useCallback, useMemo, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { FileDetail } from '../api/inventory-types.ts';
import type { AccessSeries } from '../components/access-chart.tsx';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { detailPath, formatConfidence, formatUsd, shortId } from '../components/inventory-format.ts';
import { StatusBadge } from '../components/panel.tsx';
import { formatAgo, formatBytes, formatTime } from '../format.ts';
import { Link, navigate } from '../router.ts';
import { useSession } from '../session.tsx';
import { useApi } from '../use-api.ts';

const AccessChart = lazy(() => import('../components/access-chart.tsx'));

/** Reads and writes per day over every location, with the days between filled with zeros. */
export function accessSeries(access: FileDetail['access'], now = Date.now()): AccessSeries {
  const byDay = new Map<string, { reads: number; writes: number }>();
  for (const a of access) {
    for (const d of a.days) {
      const entry = byDay.get(d.day) ?? { reads: 0, writes: 0 };
      entry.reads += d.reads;
      entry.writes += d.writes;
      byDay.set(d.day, entry);
    }
  }
  const days = [...byDay.keys()].sort();
  if (days.length === 0) return { t: [], reads: [], writes: [] };
  const t: number[] = [];
  const reads: number[] = [];
  const writes: number[] = [];
  // At least the last 30 days up to today, so one day of access is not a lone point.
  const today = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`);
  const start = Math.min(Date.parse(`${days[0]}T00:00:00Z`), today - 29 * 86_400_000);
  const end = Math.max(Date.parse(`${days.at(-1)}T00:00:00Z`), today);
  for (let at = start; at <= end; at += 86_400_000) {
    const day = new Date(at).toISOString().slice(0, 10);
    t.push(at / 1000);
    reads.push(byDay.get(day)?.reads ?? 0);
    writes.push(byDay.get(day)?.writes ?? 0);
  }
  return { t, reads, writes };
}

type Pending = { readonly kind: 'delete'; readonly location: string } | undefined;

export function FileDetailPage({ location, fileKey }: { readonly location: string; readonly fileKey: string }) {
  const { client, me } = useSession();
  const state = useApi(() => client.fileDetail(location, fileKey), `${location}\n${fileKey}`);
  const [notice, setNotice] = useState<{ readonly text: string; readonly bad: boolean } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<Pending>(undefined);
  const [replicateTo, setReplicateTo] = useState('');
  const [moveFrom, setMoveFrom] = useState('');
  const [moveTo, setMoveTo] = useState('');
  const writable = useMemo(() => new Set(me.locations.filter((l) => l.write).map((l) => l.name)), [me]);
  const readable = useMemo(() => new Set(me.locations.filter((l) => l.read).map((l) => l.name)), [me]);

  const act = useCallback(
    async (what: string, work: () => Promise<string | void>) => {
      setBusy(true);
      setNotice(undefined);
      try {
        const done = await work();
        setNotice({ text: done ?? `${what}: done.`, bad: false });
      } catch (err) {
        setNotice({ text: `${what} failed: ${err instanceof ApiError ? `${err.message} (${err.code})` : String(err)}`, bad: true });
      } finally {
        setBusy(false);
      }
    },
    [],
  );

  const detail = state.data;
  const holding = detail?.file.replicas.map((r) => r.location) ?? [];
  const replicaTargets = [...writable].filter((l) => !holding.includes(l));
  const moveSources = holding.filter((l) => writable.has(l));
  const moveTargets = [...writable].filter((l) => l !== (moveFrom || moveSources[0]) && !holding.includes(l));
  const series = useMemo(() => (detail === undefined ? undefined : accessSeries(detail.access)), [detail]);

  const operationResult = (verb: string, result: { ok: boolean; jobs: ReadonlyArray<{ state: string; last_error: string | null }> }): string => {
    if (result.ok) return `${verb}: done.`;
    const failed = result.jobs.find((j) => j.state !== 'succeeded');
    throw new Error(failed?.last_error ?? `the job is ${failed?.state ?? 'not finished'}`);
  };

  const remove = async (at: string) => {
    setConfirming(undefined);
    await act(`Deleting the copy at ${at}`, async () => {
      await client.deleteCopy(at, fileKey);
      const rest = holding.filter((l) => l !== at);
      if (rest.length === 0) {
        navigate('/ui/inventory');
        return;
      }
      if (at === location) navigate(detailPath(rest[0]!, fileKey));
      else state.reload();
      return `Deleted the copy at ${at}.`;
    });
  };

  return (
    <div className="page inventory file-detail">
      <p className="crumbs">
        <Link to="/ui/inventory">Inventory</Link> / {location}
      </p>
      <h1 className="file-title">{fileKey}</h1>
      <p role="status" className={notice === undefined ? 'sr-only' : notice.bad ? 'problem' : 'notice'}>
        {notice?.text ?? ''}
      </p>
      {state.error !== undefined && detail === undefined ? (
        <div className="problem card" role="alert">
          <p>Could not load this file: {state.error.message}</p>
          {state.error instanceof ApiError && state.error.status === 404 ? null : (
            <button type="button" onClick={state.reload}>
              Try again
            </button>
          )}
        </div>
      ) : detail === undefined ? (
        <p className="muted skeleton">Loading…</p>
      ) : (
        <>
          <section className="card" aria-labelledby="summary-title">
            <h2 id="summary-title">Summary</h2>
            <dl className="facts">
              <dt>Size</dt>
              <dd>{detail.file.size === null ? '—' : `${formatBytes(detail.file.size)} (${detail.file.size} bytes)`}</dd>
              <dt>Version</dt>
              <dd>{detail.file.version ?? '—'}</dd>
              <dt>Content type</dt>
              <dd>{detail.file.content_type ?? '—'}</dd>
              <dt>SHA-256</dt>
              <dd className="mono break">{detail.file.sha256 ?? '—'}</dd>
              <dt>Cost / month</dt>
              <dd>{formatUsd(detail.file.monthly_cost_usd)}</dd>
              <dt>Written by</dt>
              <dd>{detail.file.written_by ?? '—'}</dd>
              <dt>Updated</dt>
              <dd>
                <time dateTime={detail.file.updated_at}>{formatTime(detail.file.updated_at)}</time>
              </dd>
            </dl>
            {detail.file.alerts.length === 0 ? null : (
              <ul className="plain">
                {detail.file.alerts.map((a) => (
                  <li key={`${a.kind}:${a.location}`}>
                    <span className="badge badge-warn">{a.kind}</span> {a.message}
                  </li>
                ))}
              </ul>
            )}
          </section>

          <section className="card" aria-labelledby="copies-title">
            <h2 id="copies-title">Copies</h2>
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Location</th>
                    <th scope="col">State</th>
                    <th scope="col">Tier</th>
                    <th scope="col" className="num">Cost / month</th>
                    <th scope="col">Recommended</th>
                    <th scope="col">Encryption</th>
                    <th scope="col">Checksums</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.file.replicas.map((r) => (
                    <tr key={r.location}>
                      <th scope="row">
                        {r.location} <span className="small muted">v{r.version}</span>
                      </th>
                      <td>
                        <StatusBadge status={r.state} /> {r.stale ? <span className="badge badge-warn">stale</span> : null}
                      </td>
                      <td title={r.tier ?? "the store's default"}>{r.tier_class ?? r.tier ?? 'default'}</td>
                      <td className="num">{formatUsd(r.monthly_cost_usd)}</td>
                      <td>{r.recommendation === null ? <span className="muted">—</span> : `${r.recommendation.tier} (${formatConfidence(r.recommendation.confidence)}, ${r.recommendation.state})`}</td>
                      <td>
                        {r.encryption ?? '—'} <span className="mono small" title={r.key_id ?? undefined}>{shortId(r.key_id, 16)}</span>
                      </td>
                      <td className="mono small">
                        {Object.entries(r.checksums).map(([name, value]) => (
                          <div key={name} title={value}>
                            {name}: {shortId(value, 16)}
                          </div>
                        ))}
                      </td>
                      <td className="actions">
                        {readable.has(r.location) && r.state === 'verified' ? (
                          <a href={client.downloadUrl(r.location, fileKey)} download={fileKey.split('/').at(-1)} aria-label={`Download from ${r.location}`}>
                            Download
                          </a>
                        ) : null}
                        {writable.has(r.location) ? (
                          <button type="button" className="danger small-button" disabled={busy} onClick={() => setConfirming({ kind: 'delete', location: r.location })} aria-label={`Delete the copy at ${r.location}`}>
                            Delete
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {replicaTargets.length === 0 && (moveSources.length === 0 || moveTargets.length === 0) ? null : (
              <div className="operations">
                {replicaTargets.length === 0 ? null : (
                  <form
                    className="operation"
                    onSubmit={(e) => {
                      e.preventDefault();
                      const to = replicateTo || replicaTargets[0]!;
                      void act(`Replicating to ${to}`, async () => {
                        const message = operationResult(`Replicated to ${to}`, await client.replicate(fileKey, [to]));
                        state.reload();
                        return message;
                      });
                    }}
                  >
                    <label>
                      Replicate to{' '}
                      <select aria-label="Replicate to" value={replicateTo || replicaTargets[0]} onChange={(e) => setReplicateTo(e.target.value)}>
                        {replicaTargets.map((l) => (
                          <option key={l}>{l}</option>
                        ))}
                      </select>
                    </label>
                    <button type="submit" disabled={busy}>
                      Replicate
                    </button>
                  </form>
                )}
                {moveSources.length === 0 || moveTargets.length === 0 ? null : (
                  <form
                    className="operation"
                    onSubmit={(e) => {
                      e.preventDefault();
                      const from = moveFrom || moveSources[0]!;
                      const to = moveTo !== '' && moveTargets.includes(moveTo) ? moveTo : moveTargets[0]!;
                      void act(`Moving from ${from} to ${to}`, async () => {
                        const message = operationResult(`Moved from ${from} to ${to}`, await client.move(fileKey, from, to));
                        if (from === location) navigate(detailPath(to, fileKey));
                        else state.reload();
                        return message;
                      });
                    }}
                  >
                    <label>
                      Move from{' '}
                      <select aria-label="Move from" value={moveFrom || moveSources[0]} onChange={(e) => setMoveFrom(e.target.value)}>
                        {moveSources.map((l) => (
                          <option key={l}>{l}</option>
                        ))}
                      </select>
                    </label>
                    <label>
                      to{' '}
                      <select aria-label="Move to" value={moveTo !== '' && moveTargets.includes(moveTo) ? moveTo : moveTargets[0]} onChange={(e) => setMoveTo(e.target.value)}>
                        {moveTargets.map((l) => (
                          <option key={l}>{l}</option>
                        ))}
                      </select>
                    </label>
                    <button type="submit" disabled={busy}>
                      Move
                    </button>
                  </form>
                )}
              </div>
            )}
          </section>

          <section className="card" aria-labelledby="access-title">
            <h2 id="access-title">Access history</h2>
            {series === undefined || series.t.length === 0 ? (
              <p className="muted">No reads or writes recorded in the last 90 days.</p>
            ) : (
              <>
                <Suspense fallback={<p className="muted">Loading the chart…</p>}>
                  <AccessChart series={series} label={`Reads and writes per day over ${series.t.length} days: ${series.reads.reduce((a, b) => a + b, 0)} reads, ${series.writes.reduce((a, b) => a + b, 0)} writes`} />
                </Suspense>
                <p className="small muted">
                  {detail.access.map((a) => `${a.location}: last read ${formatAgo(a.last_read_at)}, last write ${formatAgo(a.last_write_at)}`).join(' · ')}
                </p>
              </>
            )}
          </section>

          <section className="card" aria-labelledby="versions-title">
            <h2 id="versions-title">Versions</h2>
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">State</th>
                    <th scope="col" className="num">Size</th>
                    <th scope="col">SHA-256</th>
                    <th scope="col">Encryption</th>
                    <th scope="col">Written</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.versions.map((v) => (
                    <tr key={v.version}>
                      <th scope="row">
                        {v.version}
                        {v.current ? <span className="small muted"> (current)</span> : null}
                      </th>
                      <td>{v.state}</td>
                      <td className="num">{v.size === null ? '—' : formatBytes(v.size)}</td>
                      <td className="mono small" title={v.sha256 ?? undefined}>
                        {shortId(v.sha256, 16)}
                      </td>
                      <td>{v.encryption}</td>
                      <td>
                        {formatTime(v.created_at)}
                        {v.written_by === null ? '' : ` by ${v.written_by}`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h3>Every copy, deleted ones included</h3>
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Location</th>
                    <th scope="col">Version</th>
                    <th scope="col">State</th>
                    <th scope="col">Checksums</th>
                    <th scope="col">Key id</th>
                    <th scope="col">Changed</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.history.map((h) => (
                    <tr key={`${h.location}:${h.version}`}>
                      <th scope="row">{h.location}</th>
                      <td>{h.version}</td>
                      <td>
                        <StatusBadge status={h.state} />
                      </td>
                      <td className="mono small">{Object.entries(h.checksums).map(([name, value]) => `${name}: ${shortId(value, 16)}`).join(' · ') || '—'}</td>
                      <td className="mono small" title={h.key_id ?? undefined}>
                        {shortId(h.key_id, 16)}
                      </td>
                      <td>{formatAgo(h.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>

          <section className="card" aria-labelledby="decisions-title">
            <h2 id="decisions-title">Tiering decisions</h2>
            {detail.decisions.length === 0 ? (
              <p className="muted">No tiering run has decided anything about this file.</p>
            ) : (
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Location</th>
                      <th scope="col">Change</th>
                      <th scope="col">Confidence</th>
                      <th scope="col" className="num">Saving / month</th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {detail.decisions.map((d) => (
                      <tr key={d.id}>
                        <td>{formatTime(d.created_at)}</td>
                        <th scope="row">{d.location}</th>
                        <td>
                          {d.from_tier} → {d.to_tier}
                          {d.change === 'move' ? ` at ${d.to_location}` : ''}
                        </td>
                        <td>{formatConfidence(d.confidence)}</td>
                        <td className="num">{formatUsd(d.expected_monthly_saving)}</td>
                        <td>
                          {d.state}
                          {d.error === null ? '' : `: ${d.error}`}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section className="card" aria-labelledby="audit-title">
            <h2 id="audit-title">Audit trail</h2>
            {detail.audit.length === 0 ? (
              <p className="muted">No audit entries name this key at your locations.</p>
            ) : (
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">Action</th>
                      <th scope="col">Location</th>
                      <th scope="col">Outcome</th>
                    </tr>
                  </thead>
                  <tbody>
                    {detail.audit.map((e) => (
                      <tr key={e.seq}>
                        <td className="num">{e.seq}</td>
                        <td>{formatTime(e.at)}</td>
                        <td>{e.principal}</td>
                        <th scope="row">{e.action}</th>
                        <td>{e.location ?? '—'}</td>
                        <td>{e.outcome}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
      {confirming === undefined ? null : (
        <ConfirmDialog
          title="Delete this copy?"
          message={`The copy of ${fileKey} at ${confirming.location} will be removed from that location. Copies elsewhere stay.`}
          confirm={`Delete at ${confirming.location}`}
          onCancel={() => setConfirming(undefined)}
          onConfirm={() => void remove(confirming.location)}
        />
      )}
    </div>
  );
}
