// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from '../api/client.ts';
import type { Alert, AlertState, Me } from '../api/types.ts';
import { SessionProvider } from '../session.tsx';
import { Alerts } from './alerts.tsx';

const ADMIN: Me = {
  name: 'admin',
  roles: ['admin'],
  authenticated_by: 'cookie',
  csrf_token: 'csrf',
  locations: [{ name: 'aws', provider: 'local', read: true, write: true }],
  can: { view_operations: true, manage_tokens: true, seed: true },
};

function alert(id: string, state: AlertState, kind = 'latency'): Alert {
  const at = new Date().toISOString();
  return { id, kind, subject: `aws-${id}`, severity: 'warning', state, message: `slow reads ${id}`, details: {}, occurrences: 2, first_at: at, last_at: at, acked_at: null, acked_by: null, resolved_at: null };
}

/** An ApiClient whose alert calls answer from `alerts`, recording what it was asked. */
class FakeClient extends ApiClient {
  readonly asked: Array<AlertState | undefined> = [];
  readonly acked: string[] = [];
  failAck = false;
  constructor(readonly stored: Alert[]) {
    super({ fetch: () => Promise.reject(new Error('no network in this test')) });
  }
  override async alerts(query: { readonly state?: AlertState } = {}) {
    this.asked.push(query.state);
    return { alerts: this.stored.filter((a) => query.state === undefined || a.state === query.state), next_cursor: null };
  }
  override async acknowledgeAlert(id: string) {
    if (this.failAck) throw new ApiError(403, 'csrf_mismatch', 'no csrf token');
    this.acked.push(id);
    const found = this.stored.find((a) => a.id === id)!;
    const updated = { ...found, state: 'acknowledged', acked_by: 'admin', acked_at: new Date().toISOString() };
    this.stored.splice(this.stored.indexOf(found), 1, updated);
    return updated;
  }
}

function renderAlerts(client: ApiClient, me: Me = ADMIN) {
  return render(
    <SessionProvider value={{ client, me, signOut: async () => undefined }}>
      <Alerts />
    </SessionProvider>,
  );
}

afterEach(cleanup);

describe('the Alerts page', () => {
  it('lists open alerts and acknowledges one: the row shows who acknowledged it and the button goes', async () => {
    const client = new FakeClient([alert('1', 'open'), alert('2', 'open', 'anomaly'), alert('3', 'resolved')]);
    renderAlerts(client);
    const rows = await screen.findAllByRole('row');
    expect(rows).toHaveLength(3); // the header and two open alerts
    expect(client.asked).toEqual(['open']);

    fireEvent.click(screen.getByRole('button', { name: 'Acknowledge latency alert on aws-1' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Acknowledged latency alert on aws-1.'));
    expect(client.acked).toEqual(['1']);
    const row = screen.getByRole('rowheader', { name: /aws-1/ }).closest('tr')!;
    expect(within(row).getByText('acknowledged')).toBeTruthy();
    expect(within(row).getByText('by admin')).toBeTruthy();
    expect(within(row).queryByRole('button')).toBeNull();
    expect(screen.getByRole('button', { name: 'Acknowledge anomaly alert on aws-2' })).toBeTruthy();
  });

  it('switches between open, acknowledged, resolved and all', async () => {
    const client = new FakeClient([alert('1', 'open'), alert('3', 'resolved')]);
    renderAlerts(client);
    await screen.findByText('slow reads 1');
    fireEvent.click(screen.getByLabelText('Resolved'));
    await screen.findByText('slow reads 3');
    expect(screen.queryByText('slow reads 1')).toBeNull();
    fireEvent.click(screen.getByLabelText('All'));
    await screen.findByText('slow reads 1');
    expect(screen.getByText('slow reads 3')).toBeTruthy();
    fireEvent.click(screen.getByLabelText('Acknowledged'));
    await screen.findByText('No acknowledged alerts.');
    expect(client.asked).toEqual(['open', 'resolved', undefined, 'acknowledged']);
  });

  it("says why an acknowledgement failed, with the API's code", async () => {
    const client = new FakeClient([alert('1', 'open')]);
    client.failAck = true;
    renderAlerts(client);
    fireEvent.click(await screen.findByRole('button', { name: 'Acknowledge latency alert on aws-1' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Could not acknowledge: no csrf token (csrf_mismatch)'));
  });

  it('tells a caller without an operator role that alerts are not theirs to see, and asks nothing', async () => {
    const client = new FakeClient([alert('1', 'open')]);
    renderAlerts(client, { ...ADMIN, roles: ['analytics'], can: { view_operations: false, manage_tokens: false, seed: false } });
    expect(screen.getByText(/Alerts need the admin, operations or system role; yours: analytics/)).toBeTruthy();
    await new Promise((r) => setTimeout(r, 20));
    expect(client.asked).toEqual([]);
  });
});
