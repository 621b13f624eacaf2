/**
 * Inventory: every file the caller can see, a virtualised table that stays fast at 100k files.
 * Filter (location, replica state, tier), sort (key, size, last change) and search (key
 * substring, debounced) run on the server with keyset pages (GET /files); the page asks for the
 * next one as the table scrolls. Upload by drag and drop; each file's detail at its own URL
 * (/ui/inventory/<location>/<key>). Marks `inventory-rows-painted` (Performance API) whenever a
 * first page is on screen: what the bench measures.
 */
import { useCallback, useEffect, useState } from 'react';
import type { InventorySort, ReplicaState, SortOrder, TierClass } from '../api/inventory-types.ts';
import { parseDetailPath } from '../components/inventory-format.ts';
import { InventoryTable } from '../components/inventory-table.tsx';
import { UploadZone } from '../components/upload-zone.tsx';
import { useDebounced, useInventory } from '../components/use-inventory.ts';
import { formatCount } from '../format.ts';
import { usePath } from '../router.ts';
import { useSession } from '../session.tsx';
import { FileDetailPage } from './file-detail.tsx';
import './inventory.css';

export const INVENTORY_PAINTED = 'inventory-rows-painted';
const STATES: readonly ReplicaState[] = ['verified', 'pending', 'writing', 'failed'];
const TIERS: readonly TierClass[] = ['hot', 'cool', 'cold', 'archive'];
const SEARCH_DEBOUNCE_MS = 250;

export function Inventory() {
  const path = usePath();
  const detail = parseDetailPath(path);
  if (detail !== undefined) return <FileDetailPage location={detail.location} fileKey={detail.key} />;
  return <InventoryList />;
}

function InventoryList() {
  const { client, me } = useSession();
  const [location, setLocation] = useState('');
  const [state, setState] = useState('');
  const [tier, setTier] = useState('');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<InventorySort>('key');
  const [order, setOrder] = useState<SortOrder>('asc');
  const q = useDebounced(search.trim(), SEARCH_DEBOUNCE_MS);
  const listing = useInventory(client, {
    ...(location === '' ? {} : { location }),
    ...(state === '' ? {} : { state: state as ReplicaState }),
    ...(tier === '' ? {} : { tier: tier as TierClass }),
    ...(q === '' ? {} : { q }),
    sort,
    order,
  });
  const readable = me.locations.filter((l) => l.read).map((l) => l.name);
  const writable = me.locations.filter((l) => l.write).map((l) => l.name);

  const onSort = useCallback(
    (column: InventorySort) => {
      if (column === sort) setOrder((o) => (o === 'asc' ? 'desc' : 'asc'));
      else {
        setSort(column);
        setOrder(column === 'key' ? 'asc' : 'desc');
      }
    },
    [sort],
  );

  const { settled, items } = listing;
  useEffect(() => {
    if (!settled) return;
    requestAnimationFrame(() => performance.mark(INVENTORY_PAINTED, { detail: { rows: items.length } }));
  }, [settled, items]);

  const filtered = location !== '' || state !== '' || tier !== '' || q !== '';

  return (
    <div className="page inventory">
      <h1>Inventory</h1>
      <form className="toolbar inv-filters" role="search" aria-label="Filter files" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search keys{' '}
          <input type="search" aria-label="Search keys" value={search} onChange={(e) => setSearch(e.target.value)} maxLength={256} placeholder="part of a key" />
        </label>
        <label>
          Location{' '}
          <select aria-label="Location" value={location} onChange={(e) => setLocation(e.target.value)}>
            <option value="">All</option>
            {readable.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          State{' '}
          <select aria-label="State" value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">Any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tier{' '}
          <select aria-label="Tier" value={tier} onChange={(e) => setTier(e.target.value)}>
            <option value="">Any</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={listing.reload}>
          Refresh
        </button>
      </form>
      {writable.length === 0 ? null : <UploadZone client={client} locations={writable} onUploaded={listing.reload} />}
      <section className="card wide" aria-labelledby="files-title">
        <header className="card-head">
          <h2 id="files-title">Files</h2>
          <span className="small muted" role="status" aria-live="polite">
            {!listing.settled ? 'Loading…' : `${formatCount(listing.items.length)}${listing.more ? '+' : ''} ${listing.items.length === 1 && !listing.more ? 'file' : 'files'}${filtered ? ' match' : ''}`}
          </span>
        </header>
        {listing.error === undefined ? null : (
          <div className="problem" role="alert">
            <p>Could not load the files: {listing.error}</p>
            <button type="button" onClick={listing.reload}>
              Try again
            </button>
          </div>
        )}
        {listing.settled && listing.error === undefined && listing.items.length === 0 ? <p className="muted">{filtered ? 'No file matches these filters.' : 'No files at your locations yet.'}</p> : null}
        {!listing.settled && listing.items.length === 0 ? <p className="muted skeleton">Loading…</p> : null}
        {listing.items.length === 0 ? null : (
          <InventoryTable query={[location, state, tier, q, sort, order].join('\u0000')} items={listing.items} more={listing.more} loading={listing.loading} sort={sort} order={order} onSort={onSort} onNeedMore={listing.loadMore} client={client} me={me} />
        )}
        {listing.more ? (
          <button type="button" className="secondary load-more" onClick={listing.loadMore} disabled={listing.loading}>
            {listing.loading ? 'Loading…' : 'Load more'}
          </button>
        ) : null}
      </section>
    </div>
  );
}
