/**
 * The Inventory page's entry in the shell: the page itself (its table, virtualiser, upload and
 * detail) is a chunk of its own, loaded when first visited, so the first load stays small.
 */
import { lazy, Suspense } from 'react';

const Page = lazy(() => import('./inventory.tsx').then((m) => ({ default: m.Inventory })));

export function Inventory() {
  return (
    <Suspense
      fallback={
        <div className="page">
          <h1>Inventory</h1>
          <p className="muted skeleton">Loading…</p>
        </div>
      }
    >
      <Page />
    </Suspense>
  );
}
