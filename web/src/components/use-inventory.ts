/**
 * The inventory as an infinite list: the first page for the current filters, sort and search,
 * then the next one (keyset cursor) whenever the table asks. Filters changing start over; an
 * answer for filters no longer current is dropped. Items are unique by key (a row that moved
 * between two pages' requests is not shown twice).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import type { InventoryItem, InventoryQuery, InventorySort, ReplicaState, SortOrder, TierClass } from '../api/inventory-types.ts';

export interface InventoryFilters {
  readonly location?: string;
  readonly state?: ReplicaState;
  readonly tier?: TierClass;
  readonly q?: string;
  readonly sort: InventorySort;
  readonly order: SortOrder;
}

export interface InventoryListing {
  readonly items: readonly InventoryItem[];
  /** More pages to load. */
  readonly more: boolean;
  /** A page is being fetched. */
  readonly loading: boolean;
  /** The first page has answered (or failed). */
  readonly settled: boolean;
  readonly error: string | undefined;
  readonly loadMore: () => void;
  readonly reload: () => void;
}

export function queryOf(filters: InventoryFilters, limit: number, cursor?: string): InventoryQuery {
  return {
    ...(filters.location === undefined ? {} : { location: filters.location }),
    ...(filters.state === undefined ? {} : { state: filters.state }),
    ...(filters.tier === undefined ? {} : { tier: filters.tier }),
    ...(filters.q === undefined || filters.q === '' ? {} : { q: filters.q }),
    ...(filters.sort === 'key' ? {} : { sort: filters.sort }),
    ...(filters.order === 'asc' ? {} : { order: filters.order }),
    ...(cursor === undefined ? {} : { cursor }),
    limit,
  };
}

/** Appends a page, keeping the first row of every key. */
export function appendUnique(before: readonly InventoryItem[], page: readonly InventoryItem[]): InventoryItem[] {
  const seen = new Set(before.map((i) => i.key));
  return [...before, ...page.filter((i) => !seen.has(i.key) && (seen.add(i.key), true))];
}

export function useInventory(client: ApiClient, filters: InventoryFilters, pageSize = 100): InventoryListing {
  const [items, setItems] = useState<readonly InventoryItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [settled, setSettled] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const generation = useRef(0);
  const inFlight = useRef(false);
  const filterKey = JSON.stringify(filters);

  const fetchPage = useCallback(
    (after: string | undefined, mine: number) => {
      inFlight.current = true;
      setLoading(true);
      client.files(queryOf(JSON.parse(filterKey) as InventoryFilters, pageSize, after)).then(
        (page) => {
          if (mine !== generation.current) return;
          inFlight.current = false;
          setItems((before) => (after === undefined ? appendUnique([], page.items) : appendUnique(before, page.items)));
          setCursor(page.next_cursor);
          setError(undefined);
          setLoading(false);
          setSettled(true);
        },
        (err: unknown) => {
          if (mine !== generation.current) return;
          inFlight.current = false;
          setError(err instanceof Error ? err.message : String(err));
          setLoading(false);
          setSettled(true);
        },
      );
    },
    [client, filterKey, pageSize],
  );

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setSettled(false);
    setCursor(null);
    fetchPage(undefined, mine);
  }, [fetchPage]);

  useEffect(() => {
    reload();
    return () => void (generation.current += 1);
  }, [reload]);

  const loadMore = useCallback(() => {
    if (inFlight.current || cursor === null) return;
    fetchPage(cursor, generation.current);
  }, [cursor, fetchPage]);

  return { items, more: cursor !== null, loading, settled, error, loadMore, reload };
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settledValue, setSettledValue] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettledValue(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settledValue;
}
