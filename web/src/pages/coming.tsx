/** The pages issue 16 lists that are not built yet: what each will show. */
import type { PageInfo } from '../router.ts';

const PLANS: Readonly<Record<string, string>> = {
  inventory: 'every file with its location, tier, cost, alerts and security policy, filtered and paged (GET /files), with download links.',
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
