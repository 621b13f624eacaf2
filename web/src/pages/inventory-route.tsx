/**
 * The Inventory page's entry in the shell: the page itself (its table, virtualiser, upload and
 * detail) is a chunk of its own, so the first load stays small. It is fetched at once when the
 * page opens on an Inventory address, else when the browser is next idle, so a click on
 * Inventory does not wait for it.
 */
import { lazy, Suspense } from 'react';

const load = () => import('./inventory.tsx');
const Page = lazy(() => load().then((m) => ({ default: m.Inventory })));

if (typeof window !== 'undefined') {
  if (window.location.pathname.startsWith('/ui/inventory')) void load();
  else if ('requestIdleCallback' in window) window.requestIdleCallback(() => void load(), { timeout: 3000 });
  else setTimeout(() => void load(), 1500);
}

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
