/**
 * The Inventory page's entry in the shell: the page itself (its table, virtualiser, upload and
 * detail) is a chunk of its own, so the first load stays small. It is fetched at once when the
 * page opens on an Inventory address, else when the browser is next idle, so a click on
 * Inventory does not wait for it.
 */
import { lazy, Suspense } from 'react';
import type { Inventory as InventoryPage } from './inventory.tsx';

interface InventoryModule {
  readonly Inventory: typeof InventoryPage;
}
/** The chunk once it has arrived: rendered at once, with no Suspense round. */
let loaded: InventoryModule | undefined;
const load = (): Promise<InventoryModule> =>
  import('./inventory.tsx').then((m) => {
    loaded = m;
    return m;
  });
// React reveals a suspended subtree no sooner than 300 ms after its fallback (its Suspense
// throttling), even when the lazy chunk is already here: a click on Inventory then waited
// 300 ms before it even asked for the files. `loaded` skips Suspense once the chunk is in.
const Page = lazy(() => load().then((m) => ({ default: m.Inventory })));

if (typeof window !== 'undefined') {
  if (window.location.pathname.startsWith('/ui/inventory')) void load();
  else if ('requestIdleCallback' in window) window.requestIdleCallback(() => void load(), { timeout: 3000 });
  else setTimeout(() => void load(), 1500);
}

export function Inventory() {
  if (loaded !== undefined) return <loaded.Inventory />;
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
