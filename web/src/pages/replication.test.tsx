// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsistencyDetail, JobItem } from '../api/ops-types.ts';
import type { Me } from '../api/types.ts';
import { SessionProvider } from '../session.tsx';
import { ADMIN, ANALYST, apiError, FakeApi } from '../testing/fake-api.ts';
import { Replication } from './replication.tsx';

const now = new Date().toISOString();
const zero = { missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 };

function status(drift: Partial<typeof zero> = {}, dead = 0): ConsistencyDetail {
  const total = Object.values(drift).reduce((a, b) => a + b, 0);
  return {
    drift: { ...zero, ...drift },
    drift_total: total,
    retries: { retrying: 1, dead },
    locations: [
      { location: 'aws', last_scan_at: now, last_successful_sync: total === 0 ? now : null, objects: 12, drift: { ...zero, ...drift } },
      { location: 'gcp', last_scan_at: now, last_successful_sync: now, objects: 12, drift: { ...zero } },
    ],
    recent_conflicts: [{ location: 'aws', key: 'reports/q1.csv', detail: 'stored, not in the metadata at this version', stored_size: 2048, stored_at: now }],
    jobs: { repair: { queued: 0, running: 0, succeeded: 4, failed: 0, dead, retrying: 1, stalled: 0 }, scan: { queued: 0, running: 0, succeeded: 3, failed: 0, dead: 0, retrying: 0, stalled: 0 } },
  };
}

function job(id: string, state: string, extra: Partial<JobItem> = {}): JobItem {
  return { id, kind: 'repair', state, attempts: 8, max_attempts: 8, last_error: 'unavailable: gcp did not answer', location: 'gcp', subject: 'file_001.txt', created_at: now, updated_at: now, run_after: now, finished_at: now, ...extra };
}

function renderPage(api: FakeApi, me: Me = ADMIN) {
  return render(
    // StrictMode, as main.tsx: effects run, are cleaned up and run again.
    <StrictMode>
      <SessionProvider value={{ client: api.client, me, signOut: async () => undefined }}>
        <Replication />
      </SessionProvider>
    </StrictMode>,
  );
}

afterEach(cleanup);

describe('the Replication page', () => {
  it('shows drift by kind and per location, jobs by kind and state, dead letters and recent conflicts', async () => {
    const api = new FakeApi({
      'GET /consistency/status': () => status({ missing: 2 }, 1),
      'GET /jobs': (asked) => ({ jobs: asked.query.get('state') === 'dead' ? [job('7', 'dead')] : [job('9', 'succeeded', { kind: 'scan', location: 'aws', subject: null, last_error: null }), job('7', 'dead')], next_cursor: null, counts: {} }),
    });
    renderPage(api);
    const drift = await screen.findByRole('region', { name: 'Drift' });
    await waitFor(() => expect(within(drift).getByTestId('drift-total').textContent).toBe('2'));
    expect(within(drift).getByText('missing').closest('div')!.className).toContain('pair-bad');

    const locations = screen.getByRole('region', { name: 'Drift per location' });
    expect(within(locations).getByRole('row', { name: /^aws/ }).textContent).toContain('2 missing');
    expect(within(locations).getByRole('row', { name: /^gcp/ }).textContent).toContain('ok');

    const counts = screen.getByRole('region', { name: 'Jobs by kind and state' });
    expect(within(counts).getByRole('row', { name: /^repair/ }).textContent).toBe('repair0010401');

    const dead = screen.getByRole('region', { name: 'Retries and dead letters' });
    expect(within(dead).getByText('Dead-lettered').nextSibling?.textContent).toBe('1');
    expect(within(dead).getByText(/unavailable: gcp did not answer/)).toBeTruthy();
    expect(within(dead).getByRole('button', { name: 'Retry repair job 7' })).toBeTruthy();

    const conflicts = screen.getByRole('region', { name: 'Recent conflicts' });
    expect(within(conflicts).getByRole('rowheader', { name: 'reports/q1.csv' })).toBeTruthy();
    expect(within(conflicts).getByText('2.0 KiB')).toBeTruthy();

    const recent = screen.getByRole('region', { name: 'Recent jobs' });
    await waitFor(() => expect(within(recent).getAllByRole('row')).toHaveLength(3));
    fireEvent.change(within(recent).getByLabelText('State'), { target: { value: 'dead' } });
    await waitFor(() => expect(api.calls('GET /jobs').some((a) => a.query.get('state') === 'dead' && a.query.get('limit') === '25')).toBe(true));
  });

  it('retries a dead job with the CSRF header, and says why a retry was refused', async () => {
    let retried = false;
    const api = new FakeApi({
      'GET /consistency/status': () => status({}, retried ? 0 : 2),
      'GET /jobs': (asked) => ({ jobs: asked.query.get('state') === 'dead' && !retried ? [job('7', 'dead'), job('8', 'dead')] : [], next_cursor: null, counts: {} }),
      'POST /jobs/7/retry': () => {
        retried = true;
        return { ok: true, job: job('7', 'queued', { attempts: 0, finished_at: null }) };
      },
      'POST /jobs/8/retry': () => apiError(409, 'conflict', 'job 8 was not requeued: a live job of the same kind holds its dedupe key'),
    });
    renderPage(api);
    fireEvent.click(await screen.findByRole('button', { name: 'Retry repair job 8' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Could not retry job 8: job 8 was not requeued: a live job of the same kind holds its dedupe key (conflict)'));
    fireEvent.click(screen.getByRole('button', { name: 'Retry repair job 7' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Job 7 (repair) is queued again, with fresh attempts.'));
    expect(api.calls('POST /jobs/7/retry')[0]?.headers['x-csrf-token']).toBe('csrf-token-of-the-test');
    // The page reloads: the dead letter is gone.
    await screen.findByText('No dead jobs: nothing has used up its attempts.');
  });

  it('"Scan now" scans every location, follows the scan jobs to the end and reports what they found', async () => {
    let polls = 0;
    const api = new FakeApi({
      'GET /consistency/status': () => status(),
      'GET /jobs': () => ({ jobs: [], next_cursor: null, counts: {} }),
      'POST /consistency/scan': () => ({ status: 202, body: { ok: false, jobs: [{ id: '21', kind: 'scan', state: 'queued', attempts: 0, result: null, last_error: null, progress: {} }, { id: '22', kind: 'scan', state: 'succeeded', attempts: 1, result: { drift: { missing: 1 }, repairs_queued: 1 }, last_error: null, progress: {} }] } }),
      'GET /jobs/21': () => {
        polls += 1;
        return polls < 2 ? { id: '21', kind: 'scan', state: 'running', attempts: 1, result: null, last_error: null, progress: {} } : { id: '21', kind: 'scan', state: 'succeeded', attempts: 1, result: { drift: { missing: 1, differing: 1 }, repairs_queued: 2 }, last_error: null, progress: {} };
      },
    });
    renderPage(api);
    await screen.findByRole('region', { name: 'Drift' });
    fireEvent.click(screen.getByLabelText(/Deep/));
    fireEvent.click(screen.getByRole('button', { name: 'Scan now' }));
    expect(await screen.findByRole('button', { name: 'Scanning…' })).toBeTruthy();
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Scan finished: 3 items of drift, 3 repairs queued.'), { timeout: 5000 });
    const [scan] = api.calls('POST /consistency/scan');
    expect(scan?.body).toEqual({ wait: false, deep: true });
    expect(scan?.headers['x-csrf-token']).toBe('csrf-token-of-the-test');
    expect(api.calls('GET /jobs/22')).toHaveLength(0);
    expect(screen.getByRole('button', { name: 'Scan now' })).toBeTruthy();
  });

  it('shows a load error with a way to try again', async () => {
    let fail = true;
    const api = new FakeApi({
      'GET /consistency/status': () => (fail ? apiError(503, 'unavailable', 'the metadata store did not answer') : status()),
      'GET /jobs': () => ({ jobs: [], next_cursor: null, counts: {} }),
    });
    renderPage(api);
    const drift = await screen.findByRole('region', { name: 'Drift' });
    await waitFor(() => expect(within(drift).getByRole('alert').textContent).toContain('the metadata store did not answer'));
    fail = false;
    fireEvent.click(within(drift).getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(within(drift).getByTestId('drift-total').textContent).toBe('0'));
  });

  it('tells a caller without an operator role that this is not theirs, and asks nothing', async () => {
    const api = new FakeApi();
    renderPage(api, ANALYST);
    expect(screen.getByText(/need the admin, operations or system role; yours: analytics/)).toBeTruthy();
    await new Promise((r) => setTimeout(r, 20));
    expect(api.asked).toEqual([]);
    expect(screen.queryByRole('button', { name: 'Scan now' })).toBeNull();
  });
});
