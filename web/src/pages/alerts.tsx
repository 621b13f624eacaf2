/**
 * Alerts: open, acknowledged and resolved, newest first, a page at a time; an open alert can
 * be acknowledged (POST /alerts/{id}/ack, with the session's CSRF token). It resolves by itself
 * when its condition clears.
 */
import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { Alert, AlertState } from '../api/types.ts';
import { StatusBadge } from '../components/panel.tsx';
import { formatAgo, formatCount, formatTime } from '../format.ts';
import { useSession } from '../session.tsx';

const FILTERS: ReadonlyArray<{ readonly value: AlertState | 'all'; readonly label: string }> = [
  { value: 'open', label: 'Open' },
  { value: 'acknowledged', label: 'Acknowledged' },
  { value: 'resolved', label: 'Resolved' },
  { value: 'all', label: 'All' },
];
const PAGE = 50;

type Listing = { readonly alerts: readonly Alert[]; readonly next: string | null };

export function Alerts() {
  const { client, me } = useSession();
  const [filter, setFilter] = useState<AlertState | 'all'>('open');
  const [listing, setListing] = useState<Listing | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [notice, setNotice] = useState('');

  const load = useCallback(
    async (cursor?: string) => {
      try {
        const page = await client.alerts({ ...(filter === 'all' ? {} : { state: filter }), limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
        setListing((before) => ({ alerts: cursor === undefined ? page.alerts : [...(before?.alerts ?? []), ...page.alerts], next: page.next_cursor }));
        setError(undefined);
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
    },
    [client, filter],
  );

  const allowed = me.can.view_operations;
  useEffect(() => {
    if (!allowed) return;
    setListing(undefined);
    void load();
  }, [load, allowed]);

  const acknowledge = async (alert: Alert) => {
    setBusy((b) => new Set([...b, alert.id]));
    try {
      const updated = await client.acknowledgeAlert(alert.id);
      setListing((before) => (before === undefined ? before : { ...before, alerts: before.alerts.map((a) => (a.id === updated.id ? updated : a)) }));
      setNotice(`Acknowledged ${updated.kind} alert on ${updated.subject}.`);
    } catch (err) {
      setNotice(`Could not acknowledge: ${err instanceof ApiError ? `${err.message} (${err.code})` : String(err)}`);
    } finally {
      setBusy((b) => new Set([...b].filter((id) => id !== alert.id)));
    }
  };

  if (!allowed) {
    return (
      <div className="page">
        <h1>Alerts</h1>
        <p className="muted">Alerts need the admin, operations or system role; yours: {me.roles.join(', ')}.</p>
      </div>
    );
  }

  return (
    <div className="page">
      <h1>Alerts</h1>
      <div className="toolbar">
        <fieldset className="segmented">
          <legend className="sr-only">Show alerts that are</legend>
          {FILTERS.map((f) => (
            <label key={f.value} className={filter === f.value ? 'selected' : undefined}>
              <input type="radio" name="alert-state" value={f.value} checked={filter === f.value} onChange={() => setFilter(f.value)} />
              {f.label}
            </label>
          ))}
        </fieldset>
        <button type="button" className="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p className={notice === '' ? 'sr-only' : 'notice'} role="status">
        {notice}
      </p>
      <section className="card" aria-labelledby="alerts-title" aria-busy={listing === undefined && error === undefined}>
        <h2 id="alerts-title" className="sr-only">
          {FILTERS.find((f) => f.value === filter)?.label} alerts
        </h2>
        {error !== undefined ? (
          <div className="problem" role="alert">
            <p>Could not load the alerts: {error}</p>
            <button type="button" onClick={() => void load()}>
              Try again
            </button>
          </div>
        ) : listing === undefined ? (
          <p className="muted skeleton">Loading…</p>
        ) : listing.alerts.length === 0 ? (
          <p className="muted">No {filter === 'all' ? '' : `${filter} `}alerts.</p>
        ) : (
          <div className="table-scroll">
            <table className="alerts">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Alert</th>
                  <th scope="col" className="num">
                    Seen
                  </th>
                  <th scope="col">Last</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="sr-only">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {listing.alerts.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <StatusBadge status={a.severity} />
                    </td>
                    <th scope="row">
                      <span className="alert-kind">{a.kind}</span> <span className="alert-subject">{a.subject}</span>
                      <div className="small alert-message">{a.message}</div>
                    </th>
                    <td className="num">{formatCount(a.occurrences)}×</td>
                    <td>
                      <time dateTime={a.last_at} title={formatTime(a.last_at)}>
                        {formatAgo(a.last_at)}
                      </time>
                    </td>
                    <td>
                      <StatusBadge status={a.state} />
                      {a.acked_by === null ? null : <div className="small muted">by {a.acked_by}</div>}
                    </td>
                    <td>
                      {a.state === 'open' ? (
                        <button type="button" onClick={() => void acknowledge(a)} disabled={busy.has(a.id)} aria-label={`Acknowledge ${a.kind} alert on ${a.subject}`}>
                          {busy.has(a.id) ? 'Acknowledging…' : 'Acknowledge'}
                        </button>
                      ) : null}
                    </td>
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
    </div>
  );
}
