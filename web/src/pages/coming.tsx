/** The pages issue 16 lists that are not built yet: what each will show. */
import type { PageInfo } from '../router.ts';

const PLANS: Readonly<Record<string, string>> = {
  inventory: 'every file with its location, tier, cost, alerts and security policy, filtered and paged (GET /files), with download links.',
  replication: 'replica health per file and location, drift by kind with the findings of the last scans, repair jobs and their retries (GET /consistency/status, POST /consistency/scan).',
  policies: 'the tiering decisions: which file moves to which tier and why, against the cost model and the offline optimum.',
  streams: 'live stream metrics: events in and out per topic, consumer lag, the outbox, and sensor readings with their anomaly scores (GET /streaming/metrics, /stream/peek, /stream/live).',
};

export function Coming({ page }: { readonly page: PageInfo }) {
  return (
    <div className="page">
      <h1>{page.title}</h1>
      <section className="card">
        <p>
          <strong>Coming:</strong> {PLANS[page.id] ?? 'this page is being built.'}
        </p>
      </section>
    </div>
  );
}
