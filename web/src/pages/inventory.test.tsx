// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from '../api/client.ts';
import type { InventoryItem, InventoryPage, InventoryQuery } from '../api/inventory-types.ts';
import type { Me } from '../api/types.ts';
import { detailPath, formatUsd, parseDetailPath } from '../components/inventory-format.ts';
import { appendUnique, queryOf } from '../components/use-inventory.ts';
import { accessSeries } from './file-detail.tsx';
import { SessionProvider } from '../session.tsx';
import { Inventory } from './inventory.tsx';

const ADMIN: Me = {
  name: 'admin',
  roles: ['admin'],
  authenticated_by: 'cookie',
  csrf_token: 'csrf',
  locations: [
    { name: 'aws', provider: 'local', read: true, write: true },
    { name: 'azure', provider: 'local', read: true, write: true },
  ],
  can: { view_operations: true, manage_tokens: true, seed: true },
};
const READER: Me = { ...ADMIN, name: 'ana', roles: ['analytics'], locations: [{ name: 'aws', provider: 'local', read: true, write: false }], can: { view_operations: false, manage_tokens: false, seed: false } };

function item(n: number): InventoryItem {
  const key = `file_${String(n).padStart(5, '0')}.txt`;
  return {
    key,
    content_type: 'text/plain',
    version: 1,
    size: 1000 + n,
    sha256: 'a'.repeat(64),
    written_by: 'admin',
    updated_at: new Date().toISOString(),
    monthly_cost_usd: 0.000021,
    alerts: n % 7 === 0 ? [{ kind: 'stale', location: 'aws', message: 'aws holds version 1, an older one' }] : [],
    replicas: [
      {
        location: 'aws', version: 1, sha256: 'a'.repeat(64), size: 1000 + n, stale: false, state: 'verified', object_key: key, stored_size: 1200 + n, checksums: { md5: 'b'.repeat(32) },
        tier: null, key_id: 'age1qqqqqqqqqqqqqqqqqqqq', attempts: 0, last_error: null, verified_at: null, encryption: 'age', tier_class: 'hot', monthly_cost_usd: 0.000021,
        recommendation: n === 1 ? { tier: 'cool', confidence: 0.83, change: 'tier', to_location: 'aws', state: 'dry_run', expected_monthly_saving: 0.00001, decided_at: new Date().toISOString() } : null,
      },
    ],
  };
}

/** An ApiClient whose GET /files answers from `total` generated files, `limit` at a time, recording every query. */
class FakeClient extends ApiClient {
  readonly asked: InventoryQuery[] = [];
  fail = false;
  constructor(readonly total: number) {
    super({ fetch: () => Promise.reject(new Error('no network in this test')) });
  }
  override async files(query: InventoryQuery = {}): Promise<InventoryPage> {
    this.asked.push(query);
    if (this.fail) throw new ApiError(503, 'unavailable', 'the metadata store does not answer');
    const all = Array.from({ length: this.total }, (_, i) => item(i + 1)).filter((i) => query.q === undefined || i.key.includes(query.q));
    const start = query.cursor === undefined ? 0 : Number(query.cursor);
    const limit = query.limit ?? 100;
    const items = all.slice(start, start + limit);
    return { items, next_cursor: start + limit < all.length ? String(start + limit) : null };
  }
}

function renderInventory(client: ApiClient, me: Me = ADMIN) {
  return render(
    <SessionProvider value={{ client, me, signOut: async () => undefined }}>
      <Inventory />
    </SessionProvider>,
  );
}

afterEach(cleanup);

describe('the Inventory page', () => {
  it('renders only the rows in view of a page, with cost, tier, recommendation and encryption, and pages on with the cursor', async () => {
    const client = new FakeClient(250);
    renderInventory(client);
    const table = await screen.findByRole('table', { name: 'Files' });
    await within(table).findByText('file_00001.txt');
    const rows = within(table).getAllByRole('row');
    // The header and the rows in view (plus overscan), not all 100 of the page.
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(table.getAttribute('aria-rowcount')).toBe('102');
    const first = within(table).getByRole('rowheader', { name: /file_00001\.txt/ }).closest('[role="row"]') as HTMLElement;
    expect(within(first).getByText('$0.000021')).toBeTruthy();
    expect(within(first).getByText('hot')).toBeTruthy();
    expect(first.textContent).toContain('cool 83%');
    expect(first.textContent).toContain('age');
    expect(within(first).getByRole('link', { name: 'Download file_00001.txt from aws' }).getAttribute('href')).toBe('/files/aws/file_00001.txt');
    expect(within(first).getByRole('link', { name: 'file_00001.txt' }).getAttribute('href')).toBe('/ui/inventory/aws/file_00001.txt');
    expect(screen.getByRole('region', { name: 'Files' }).querySelector('header [role="status"]')?.textContent).toBe('100+ files');

    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(client.asked).toHaveLength(2));
    expect(client.asked[1]).toMatchObject({ cursor: '100', limit: 100 });
    await waitFor(() => expect(table.getAttribute('aria-rowcount')).toBe('202'));
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(table.getAttribute('aria-rowcount')).toBe('251'));
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('sorts on the server from the column headers, with aria-sort, and starts over', async () => {
    const client = new FakeClient(30);
    renderInventory(client);
    await screen.findByText('file_00001.txt');
    const header = (name: string) => screen.getByRole('button', { name: new RegExp(`^Sort by ${name}`) }).closest('[role="columnheader"]')!;
    expect(header('key').getAttribute('aria-sort')).toBe('ascending');
    expect(header('size').getAttribute('aria-sort')).toBe('none');
    fireEvent.click(screen.getByRole('button', { name: /^Sort by size/ }));
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ sort: 'size', order: 'desc' }));
    expect(client.asked.at(-1)?.cursor).toBeUndefined();
    expect(header('size').getAttribute('aria-sort')).toBe('descending');
    expect(header('key').getAttribute('aria-sort')).toBe('none');
    fireEvent.click(screen.getByRole('button', { name: /^Sort by size/ }));
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ sort: 'size' }));
    expect(client.asked.at(-1)?.order).toBeUndefined();
    expect(header('size').getAttribute('aria-sort')).toBe('ascending');
    fireEvent.click(screen.getByRole('button', { name: /^Sort by updated/ }));
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ sort: 'updated_at', order: 'desc' }));
  });

  it('searches once typing pauses, and filters by location, state and tier', async () => {
    const client = new FakeClient(30);
    renderInventory(client);
    await screen.findByText('file_00001.txt');
    const box = screen.getByLabelText('Search keys');
    for (const text of ['0', '00', '0002']) fireEvent.change(box, { target: { value: text } });
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ q: '0002' }));
    await act(async () => new Promise((r) => setTimeout(r, 400)));
    // One question for the pause, none per keystroke.
    expect(client.asked.filter((q) => q.q !== undefined).map((q) => q.q)).toEqual(['0002']);
    await waitFor(() => expect(screen.getByText('file_00020.txt')).toBeTruthy());
    expect(screen.queryByText('file_00001.txt')).toBeNull();

    fireEvent.change(screen.getByLabelText('Tier'), { target: { value: 'cool' } });
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ q: '0002', tier: 'cool' }));
    fireEvent.change(screen.getByLabelText('State'), { target: { value: 'failed' } });
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ tier: 'cool', state: 'failed' }));
    fireEvent.change(screen.getByLabelText('Location'), { target: { value: 'azure' } });
    await waitFor(() => expect(client.asked.at(-1)).toMatchObject({ location: 'azure', tier: 'cool', state: 'failed', q: '0002' }));
    // Only the caller's readable locations are offered.
    expect(within(screen.getByLabelText('Location')).getAllByRole('option').map((o) => o.textContent)).toEqual(['All', 'aws', 'azure']);
  });

  it("says why the files could not be loaded, with the API's message, and tries again", async () => {
    const client = new FakeClient(3);
    client.fail = true;
    renderInventory(client);
    const problem = await screen.findByRole('alert');
    expect(problem.textContent).toContain('the metadata store does not answer');
    client.fail = false;
    fireEvent.click(within(problem).getByRole('button', { name: 'Try again' }));
    await screen.findByText('file_00003.txt');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('offers the upload only where the caller may write, and only its readable locations to filter', async () => {
    renderInventory(new FakeClient(2), READER);
    await screen.findByText('file_00001.txt');
    expect(screen.queryByText('Choose a file to upload')).toBeNull();
    expect(within(screen.getByLabelText('Location')).getAllByRole('option').map((o) => o.textContent)).toEqual(['All', 'aws']);
    cleanup();
    renderInventory(new FakeClient(2), ADMIN);
    await screen.findByText('file_00001.txt');
    expect(screen.getByLabelText('Choose a file to upload')).toBeTruthy();
    expect(within(screen.getByLabelText('Upload to')).getAllByRole('option').map((o) => o.textContent)).toEqual(['aws', 'azure']);
  });
});

describe('inventory paging helpers', () => {
  it('builds the query from the filters, leaving defaults out', () => {
    expect(queryOf({ sort: 'key', order: 'asc' }, 100)).toEqual({ limit: 100 });
    expect(queryOf({ sort: 'size', order: 'desc', q: 'x', tier: 'cold', location: 'aws', state: 'verified' }, 50, 'c1')).toEqual({ sort: 'size', order: 'desc', q: 'x', tier: 'cold', location: 'aws', state: 'verified', cursor: 'c1', limit: 50 });
  });

  it('appends a page keeping one row per key', () => {
    expect(appendUnique([item(1), item(2)], [item(2), item(3)]).map((i) => i.key)).toEqual(['file_00001.txt', 'file_00002.txt', 'file_00003.txt']);
  });

  it('writes small monthly costs with their digits, and tiny ones as a bound', () => {
    expect([0.000021, 0.0123, 0.5, 3.456, 0, 6.5e-8].map(formatUsd)).toEqual(['$0.000021', '$0.012', '$0.50', '$3.46', '$0', '<$0.000001']);
  });

  it('round-trips a file detail path, slashes and all', () => {
    const path = detailPath('aws', 'reports/2026/q1 #1.csv');
    expect(path).toBe('/ui/inventory/aws/reports/2026/q1%20%231.csv');
    expect(parseDetailPath(path)).toEqual({ location: 'aws', key: 'reports/2026/q1 #1.csv' });
    expect(parseDetailPath('/ui/inventory')).toBeUndefined();
  });

  it('sums access per day over locations, over at least the last 30 days', () => {
    const now = Date.parse('2026-12-03T12:00:00Z');
    const day = (d: string, reads: number, writes: number) => ({ day: d, reads, writes, deletes: 0, bytes_read: 0, bytes_written: 0 });
    const series = accessSeries(
      [
        { location: 'aws', last_read_at: null, last_write_at: null, days: [day('2026-12-01', 2, 1), day('2026-12-03', 1, 0)] },
        { location: 'gcp', last_read_at: null, last_write_at: null, days: [day('2026-12-01', 3, 0)] },
      ],
      now,
    );
    expect(series.t).toHaveLength(30);
    expect(series.t.at(-1)).toBe(Date.parse('2026-12-03T00:00:00Z') / 1000);
    expect(series.reads.slice(-3)).toEqual([5, 0, 1]);
    expect(series.writes.slice(-3)).toEqual([1, 0, 0]);
    expect(accessSeries([], now).t).toEqual([]);
  });
});
