// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditVerify } from '../api/ops-types.ts';
import type { Me } from '../api/types.ts';
import { SessionProvider } from '../session.tsx';
import { ADMIN, apiError, FakeApi } from '../testing/fake-api.ts';
import { Audit } from './audit.tsx';

const HASH = 'ab'.repeat(32);

function renderPage(fake: FakeApi, me: Me = ADMIN) {
  return render(
    <StrictMode>
      <SessionProvider value={{ client: fake.client, me, signOut: async () => undefined }}>
        <Audit />
      </SessionProvider>
    </StrictMode>,
  );
}

afterEach(cleanup);

describe('the Audit page', () => {
  it('verifies the chain on request, again when asked, and offers the export as a download link', async () => {
    let entries = 41;
    const fake = new FakeApi({ 'GET /audit/verify': (): AuditVerify => ({ ok: true, entries: (entries += 1), head: { seq: entries, hash: HASH } }) });
    renderPage(fake);
    const chain = screen.getByRole('region', { name: 'Hash chain' });
    // Nothing is asked before the button: a verify rereads the whole trail.
    expect(chain.textContent).toContain('Not verified yet');
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.calls('GET /audit/verify')).toEqual([]);
    fireEvent.click(within(chain).getByRole('button', { name: 'Verify the chain' }));
    await waitFor(() => expect(within(chain).getByRole('status').textContent).toBe('Intact 42 entries checked'));
    expect(within(chain).getByText('ok')).toBeTruthy();
    expect(chain.textContent).toContain(HASH);
    const before = fake.calls('GET /audit/verify').length;
    fireEvent.click(within(chain).getByRole('button', { name: 'Verify the chain' }));
    await waitFor(() => expect(fake.calls('GET /audit/verify').length).toBe(before + 1));
    await waitFor(() => expect(within(chain).getByRole('status').textContent).toContain(`${entries} entries checked`));

    const link = screen.getByRole('link', { name: 'Download the audit trail (NDJSON)' });
    expect(link.getAttribute('href')).toBe('http://dashboard.test/audit/export');
    expect(link.getAttribute('download')).toBe('movingdata-audit.ndjson');
    const after = screen.getByLabelText('After entry (optional)');
    fireEvent.change(after, { target: { value: '17' } });
    expect(link.getAttribute('href')).toBe('http://dashboard.test/audit/export?after_seq=17');
    expect(link.getAttribute('download')).toBe('movingdata-audit-after-17.ndjson');
    fireEvent.change(after, { target: { value: '1.5' } });
    expect(after.getAttribute('aria-invalid')).toBe('true');
    expect(link.getAttribute('href')).toBe('http://dashboard.test/audit/export');
  });

  it('shows a broken chain: where, and what kind of break', async () => {
    const fake = new FakeApi({
      'GET /audit/verify': (): AuditVerify => ({ ok: false, entries: 9, head: { seq: 9, hash: HASH }, problem: { seq: 10, kind: 'edited', message: 'entry 10 does not hash to its recorded hash' } }),
    });
    renderPage(fake);
    const chain = screen.getByRole('region', { name: 'Hash chain' });
    fireEvent.click(within(chain).getByRole('button', { name: 'Verify the chain' }));
    await waitFor(() => expect(within(chain).getByRole('alert').textContent).toBe('Entry 10: edited. entry 10 does not hash to its recorded hash'));
    expect(within(chain).getByRole('status').textContent).toMatch(/^Broken/);
    expect(within(chain).getByText('error')).toBeTruthy();
  });

  it('says why verifying failed', async () => {
    const fake = new FakeApi({ 'GET /audit/verify': () => apiError(503, 'unavailable', 'the metadata store did not answer') });
    renderPage(fake);
    fireEvent.click(screen.getByRole('button', { name: 'Verify the chain' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('Could not verify: the metadata store did not answer (unavailable)'));
  });

  it('tells an operator without the admin or system role that the audit trail is not theirs, and asks nothing', async () => {
    const fake = new FakeApi();
    renderPage(fake, { ...ADMIN, roles: ['operations'], can: { view_operations: true, manage_tokens: false, seed: false, audit: false } });
    expect(screen.getByText(/The audit trail needs the admin or system role; yours: operations/)).toBeTruthy();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.asked).toEqual([]);
    expect(screen.queryByRole('link', { name: /Download/ })).toBeNull();
  });
});
