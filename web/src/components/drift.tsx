/** Drift as the Overview and the Replication page show it: the total, and each kind's count. */
import type { ConsistencyStatus } from '../api/types.ts';
import { formatCount } from '../format.ts';

/** The latest scan of any location, or null (never scanned). */
export function lastScanOf(status: Pick<ConsistencyStatus, 'locations'>): string | null {
  return status.locations.map((l) => l.last_scan_at).filter((t): t is string => t !== null).sort().at(-1) ?? null;
}

export function DriftKinds({ status }: { readonly status: Pick<ConsistencyStatus, 'drift' | 'drift_total'> }) {
  return (
    <>
      <p className="figure">
        <span className="figure-value" data-testid="drift-total">
          {formatCount(status.drift_total)}
        </span>{' '}
        {status.drift_total === 1 ? 'item' : 'items'} of drift
      </p>
      <dl className="pairs">
        {Object.entries(status.drift).map(([kind, count]) => (
          <div key={kind} className={count > 0 ? 'pair pair-bad' : 'pair'}>
            <dt>{kind.replaceAll('_', ' ')}</dt>
            <dd>{formatCount(count)}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}
