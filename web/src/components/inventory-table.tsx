/**
 * The inventory as a virtualised table (@tanstack/react-virtual): only the rows in view (and a
 * few either side) are in the DOM, so 100k files scroll as smoothly as 100. Nearing the end of
 * what is loaded asks for the next page; a "Load more" button does the same for the keyboard.
 *
 * ARIA table semantics on a grid of divs (a <table> cannot hold absolutely positioned rows):
 * `aria-rowcount`/`aria-rowindex` tell assistive technology where a row sits in the whole, and
 * the sortable headers carry `aria-sort`.
 */
import { observeElementRect, useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';
import type { ApiClient } from '../api/client.ts';
import type { InventoryItem, InventorySort, SortOrder } from '../api/inventory-types.ts';
import type { Me } from '../api/types.ts';
import { formatAgo, formatBytes, formatTime } from '../format.ts';
import { Link } from '../router.ts';
import { detailPath, formatConfidence, formatUsd, shortId } from './inventory-format.ts';
import { StatusBadge } from './panel.tsx';

export const ROW_HEIGHT = 64;
const FALLBACK_RECT = { width: 1200, height: 640 };

const COLUMNS: ReadonlyArray<{ readonly id: string; readonly title: string; readonly sort?: InventorySort; readonly num?: boolean }> = [
  { id: 'key', title: 'Key', sort: 'key' },
  { id: 'size', title: 'Size', sort: 'size', num: true },
  { id: 'locations', title: 'Locations' },
  { id: 'tier', title: 'Tier' },
  { id: 'cost', title: 'Cost / month', num: true },
  { id: 'recommended', title: 'Recommended' },
  { id: 'encryption', title: 'Encryption' },
  { id: 'alerts', title: 'Alerts' },
  { id: 'updated', title: 'Updated', sort: 'updated_at' },
  { id: 'actions', title: 'Actions' },
];

export interface InventoryTableProps {
  /** What the rows answer (filters, search, sort): a new query starts again at the top. */
  readonly query: string;
  readonly items: readonly InventoryItem[];
  readonly more: boolean;
  readonly loading: boolean;
  readonly sort: InventorySort;
  readonly order: SortOrder;
  readonly onSort: (sort: InventorySort) => void;
  readonly onNeedMore: () => void;
  readonly client: ApiClient;
  readonly me: Me;
}

function ariaSort(column: InventorySort | undefined, sort: InventorySort, order: SortOrder): 'ascending' | 'descending' | 'none' | undefined {
  if (column === undefined) return undefined;
  if (column !== sort) return 'none';
  return order === 'asc' ? 'ascending' : 'descending';
}

export function InventoryTable({ query, items, more, loading, sort, order, onSort, onNeedMore, client, me }: InventoryTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    // Until the element is measured, and where nothing lays out (a DOM emulator): a screenful.
    initialRect: FALLBACK_RECT,
    observeElementRect: (instance, callback) => observeElementRect(instance, (rect) => callback(rect.height > 0 ? rect : FALLBACK_RECT)),
  });
  const rows = virtualizer.getVirtualItems();
  const last = rows.at(-1)?.index ?? -1;

  useEffect(() => {
    virtualizer.scrollToOffset(0);
  }, [query, virtualizer]);

  useEffect(() => {
    if (more && !loading && last >= items.length - 20) onNeedMore();
  }, [last, items.length, more, loading, onNeedMore]);

  const readable = new Set(me.locations.filter((l) => l.read).map((l) => l.name));

  return (
    <div className="inv-table" role="table" aria-label="Files" aria-rowcount={items.length + 1 + (more ? 1 : 0)} aria-colcount={COLUMNS.length} aria-busy={loading}>
      <div role="rowgroup" className="inv-head">
        <div role="row" aria-rowindex={1} className="inv-row">
          {COLUMNS.map((c) => (
            <div key={c.id} role="columnheader" aria-sort={ariaSort(c.sort, sort, order)} className={`inv-cell inv-${c.id}${c.num === true ? ' num' : ''}`}>
              {c.sort === undefined ? (
                c.title
              ) : (
                <button type="button" className="sort" onClick={() => onSort(c.sort!)} aria-label={`Sort by ${c.title.toLowerCase()}${c.sort === sort ? (order === 'asc' ? ', now ascending' : ', now descending') : ''}`}>
                  {c.title}
                  <span aria-hidden="true" className="sort-mark">
                    {c.sort === sort ? (order === 'asc' ? ' ▲' : ' ▼') : ' ↕'}
                  </span>
                </button>
              )}
            </div>
          ))}
        </div>
      </div>
      <div ref={scroller} className="inv-scroll" tabIndex={0} aria-label="File rows (scroll for more)" role="rowgroup">
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {rows.map((row) => {
            const item = items[row.index]!;
            return (
              <div
                key={item.key}
                role="row"
                aria-rowindex={row.index + 2}
                className="inv-row"
                data-key={item.key}
                style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${row.start}px)` }}
              >
                <Row item={item} client={client} readable={readable} />
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

function Row({ item, client, readable }: { readonly item: InventoryItem; readonly client: ApiClient; readonly readable: ReadonlySet<string> }) {
  const first = item.replicas[0];
  const source = item.replicas.find((r) => r.state === 'verified' && !r.stale && readable.has(r.location));
  return (
    <>
      <div role="rowheader" className="inv-cell inv-key">
        {first === undefined ? item.key : <Link to={detailPath(first.location, item.key)}>{item.key}</Link>}
        <div className="small muted">v{item.version ?? '—'}{item.written_by === null ? '' : ` by ${item.written_by}`}</div>
      </div>
      <div role="cell" className="inv-cell inv-size num">
        {item.size === null ? '—' : formatBytes(item.size)}
      </div>
      <div role="cell" className="inv-cell inv-locations">
        <ul className="plain">
          {item.replicas.map((r) => (
            <li key={r.location}>
              <span className="loc">{r.location}</span> <StatusBadge status={r.state} />
              {r.stale ? <span className="badge badge-warn">stale</span> : null}
            </li>
          ))}
        </ul>
      </div>
      <div role="cell" className="inv-cell inv-tier">
        <ul className="plain">
          {item.replicas.map((r) => (
            <li key={r.location} title={r.tier === null ? `${r.location}: the store's default class` : `${r.location}: ${r.tier}`}>
              {r.tier_class ?? r.tier ?? 'default'}
            </li>
          ))}
        </ul>
      </div>
      <div role="cell" className="inv-cell inv-cost num" title={item.replicas.map((r) => `${r.location}: ${formatUsd(r.monthly_cost_usd)}`).join(', ')}>
        {formatUsd(item.monthly_cost_usd)}
      </div>
      <div role="cell" className="inv-cell inv-recommended">
        <ul className="plain">
          {item.replicas.map((r) =>
            r.recommendation === null ? null : (
              <li key={r.location} title={`${r.location}: ${r.recommendation.change} to ${r.recommendation.tier}${r.recommendation.change === 'move' ? ` at ${r.recommendation.to_location}` : ''} (${r.recommendation.state}), saves ${formatUsd(r.recommendation.expected_monthly_saving)}/month`}>
                {r.recommendation.tier} <span className="muted">{formatConfidence(r.recommendation.confidence)}</span>
              </li>
            ),
          )}
        </ul>
        {item.replicas.every((r) => r.recommendation === null) ? <span className="muted">—</span> : null}
      </div>
      <div role="cell" className="inv-cell inv-encryption">
        <ul className="plain">
          {item.replicas.map((r) => (
            <li key={r.location} title={r.key_id ?? undefined}>
              {r.encryption ?? '—'} <span className="muted mono">{shortId(r.key_id, 10)}</span>
            </li>
          ))}
        </ul>
      </div>
      <div role="cell" className="inv-cell inv-alerts">
        {item.alerts.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          <ul className="plain">
            {item.alerts.map((a) => (
              <li key={`${a.kind}:${a.location}`} title={a.message}>
                <span className="badge badge-warn">{a.kind}</span> {a.location}
              </li>
            ))}
          </ul>
        )}
      </div>
      <div role="cell" className="inv-cell inv-updated">
        <time dateTime={item.updated_at} title={formatTime(item.updated_at)}>
          {formatAgo(item.updated_at)}
        </time>
      </div>
      <div role="cell" className="inv-cell inv-actions">
        {source === undefined ? null : (
          <a href={client.downloadUrl(source.location, item.key)} download={item.key.split('/').at(-1)} aria-label={`Download ${item.key} from ${source.location}`}>
            Download
          </a>
        )}
      </div>
    </>
  );
}
