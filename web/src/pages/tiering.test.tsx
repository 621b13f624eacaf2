// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelInfo, PolicyComparison, Recommendation } from '../api/ops-types.ts';
import type { Me } from '../api/types.ts';
import { SessionProvider } from '../session.tsx';
import { ADMIN, ANALYST, apiError, FakeApi } from '../testing/fake-api.ts';
import { Tiering } from './tiering.tsx';

const now = new Date().toISOString();

const recommendation: Recommendation = {
  location: 'aws',
  key: 'logs/2026-01.gz',
  version: 1,
  size: 5 * 1024 * 1024,
  tier: 'hot',
  recommended: 'cool',
  to_location: 'aws',
  change: 'tier',
  proposed: 'cool',
  confidence: 0.87,
  source: 'model',
  monthly_cost: 0.0012,
  recommended_monthly_cost: 0.0007,
  expected_monthly_saving: 0.0005,
  move_cost: 0.00001,
  reasons: [
    { rule: 'confidence', verdict: 'pass', detail: 'confidence 0.87 ≥ 0.6' },
    { rule: 'hysteresis', verdict: 'applied', detail: 'idle 200 days' },
  ],
};

const comparison: PolicyComparison = {
  currency: 'USD',
  prices: 'AWS us-east-1 list prices',
  days: 90,
  files: 40,
  bytes: 10_000_000,
  truncated: false,
  model: { source: 'default', version: null },
  policies: [
    { name: 'model+rules', label: 'Ours: model + rules', kind: 'ours', total: 1.1, monthly: 0.366, over_optimum: 0.1 },
    { name: 'rules', label: 'Ours: rules alone', kind: 'ours', total: 1.2, monthly: 0.4, over_optimum: 0.2 },
    { name: 'always-hot', label: 'Always hot', kind: 'baseline', total: 2, monthly: 0.666, over_optimum: 1 },
    { name: 'lifecycle-30/90', label: 'Lifecycle 30/90 days', kind: 'baseline', total: 1.5, monthly: 0.5, over_optimum: 0.5 },
    { name: 'intelligent-tiering', label: 'S3 Intelligent-Tiering', kind: 'baseline', total: 1.3, monthly: 0.433, over_optimum: 0.3 },
    { name: 'optimum', label: 'Offline optimum (hindsight)', kind: 'optimum', total: 1, monthly: 0.333, over_optimum: 0 },
  ],
  cheapest: 'model+rules',
  elapsed_ms: 42,
};

const defaultModel: ModelInfo = { source: 'default', version: null, kind: 'gbdt', trained_on_records: 5000, metrics: null, features: ['a', 'b'], history: [] };
const trained: ModelInfo = {
  source: 'trained',
  version: 3,
  kind: 'gbdt',
  trained_on_records: 120,
  metrics: { accuracy: 0.912, log_loss: 0.234, held_out: 24 },
  features: ['a', 'b'],
  history: [{ version: 3, kind: 'gbdt', trained_on: 'access-stats', records: 120, metrics: { accuracy: 0.912 }, created_by: 'admin', created_at: now }],
};

function api(): FakeApi & { trainedYet: boolean } {
  const fake = Object.assign(new FakeApi(), { trainedYet: false });
  fake
    .on('GET /predictive/recommendations', () => ({ items: [recommendation], next_cursor: null }))
    .on('GET /tiering/costs', () => ({ currency: 'USD', total: { files: 40, bytes: 10_000_000, monthly_cost: 0.5, recommended_monthly_cost: 0.4, projected_monthly_saving: 0.1 } }))
    .on('GET /tiering/policies', () => comparison)
    .on('GET /predictive/model', () => (fake.trainedYet ? trained : defaultModel))
    .on('GET /tiering/decisions', () => ({
      decisions: [{ id: '5', run_id: 'run-1', location: 'aws', key: 'logs/2026-01.gz', change: 'tier', from_tier: 'hot', to_tier: 'cool', to_location: 'aws', confidence: 0.87, rules: [{ rule: 'payback', verdict: 'pass', detail: 'pays back in 3 days' }], expected_monthly_saving: 0.0005, move_cost: 0, state: 'dry_run', error: null, created_by: 'admin', created_at: now }],
      next_cursor: null,
    }))
    .on('POST /predictive/train', () => {
      fake.trainedYet = true;
      return { ok: true, model: trained.history[0], trained_on: 'access-stats', labels: { hot: 100, cool: 20, cold: 0 } };
    });
  return fake;
}

function renderPage(fake: FakeApi, me: Me = ADMIN) {
  return render(
    // StrictMode, as main.tsx: effects run, are cleaned up and run again.
    <StrictMode>
      <SessionProvider value={{ client: fake.client, me, signOut: async () => undefined }}>
        <Tiering />
      </SessionProvider>
    </StrictMode>,
  );
}

afterEach(cleanup);

describe('the Tiering page', () => {
  it('shows recommendations with their reasons and saving, and the policy comparison against the optimum', async () => {
    const fake = api();
    renderPage(fake);
    const recommendations = await screen.findByRole('region', { name: 'Recommendations' });
    const row = await within(recommendations).findByRole('row', { name: /logs\/2026-01\.gz/ });
    expect(row.textContent).toContain('hot → cool');
    expect(row.textContent).toContain('87.0 %');
    expect(row.textContent).toContain('$0.000500');
    expect(within(row).getByText('hysteresis applied')).toBeTruthy();
    expect(within(row).getByText(/idle 200 days/)).toBeTruthy();
    expect(fake.calls('GET /predictive/recommendations')[0]?.query.get('changes_only')).toBe('true');

    const policies = screen.getByRole('region', { name: 'Policy comparison' });
    await waitFor(() => expect(within(policies).getAllByRole('row')).toHaveLength(7));
    expect(within(policies).getByRole('row', { name: /^Ours: model \+ rules cheapest/ }).textContent).toContain('+10.0 %');
    expect(within(policies).getByRole('row', { name: /^Always hot/ }).textContent).toContain('$2.00');
    expect(within(policies).getByRole('row', { name: /^Offline optimum/ }).textContent).toContain('—');
    expect(within(policies).getAllByText('cheapest')).toHaveLength(1);
    expect(within(policies).queryByRole('note')).toBeNull();
    expect(screen.getByRole('region', { name: 'Projected saving' }).textContent).toContain('$0.1000');

    const decisions = screen.getByRole('region', { name: 'Decisions' });
    await waitFor(() => expect(within(decisions).getByText('dry run')).toBeTruthy());

    fireEvent.click(screen.getByLabelText('Only recommendations that change something'));
    await waitFor(() => expect(fake.calls('GET /predictive/recommendations').at(-1)?.query.get('changes_only')).toBe('false'));
  });

  it('trains the model (with the CSRF header) and shows its metrics', async () => {
    const fake = api();
    renderPage(fake);
    const model = await screen.findByRole('region', { name: 'Model' });
    await waitFor(() => expect(within(model).getByTestId('model-accuracy').textContent).toBe('—'));
    expect(model.textContent).toContain('default');
    fireEvent.click(screen.getByRole('button', { name: 'Train the model' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Trained model version 3 (gbdt) on 120 records: held-out accuracy 91.2 %.'));
    await waitFor(() => expect(within(model).getByTestId('model-accuracy').textContent).toBe('91.2 %'));
    expect(model.textContent).toContain('0.234');
    expect(model.textContent).toContain('v3');
    expect(fake.calls('POST /predictive/train')[0]?.headers['x-csrf-token']).toBe('csrf-token-of-the-test');
    // The comparison is asked again (the model changed).
    await waitFor(() => expect(fake.calls('GET /tiering/policies').length).toBeGreaterThanOrEqual(2));
  });

  it('says so when every policy costs the same (a history too short to tell them apart)', async () => {
    const flat = { ...comparison, policies: comparison.policies.map((p) => ({ ...p, total: 0.5, monthly: 0.1667, over_optimum: 0 })) };
    const fake = api().on('GET /tiering/policies', () => flat);
    renderPage(fake);
    const policies = await screen.findByRole('region', { name: 'Policy comparison' });
    await waitFor(() => expect(within(policies).getByRole('note').textContent).toMatch(/^Every policy costs the same here/));
    // Every policy but the optimum is the cheapest.
    expect(within(policies).getAllByText('cheapest')).toHaveLength(5);
  });

  it('says why training failed', async () => {
    const fake = api().on('POST /predictive/train', () => apiError(400, 'invalid_argument', 'nothing to train on'));
    renderPage(fake);
    fireEvent.click(await screen.findByRole('button', { name: 'Train the model' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Could not train: nothing to train on (invalid_argument)'));
  });

  it("offers a caller without an operator role its recommendations only: no comparison, decisions or training", async () => {
    const fake = api();
    renderPage(fake, ANALYST);
    await screen.findByRole('row', { name: /logs\/2026-01\.gz/ });
    expect(screen.queryByRole('region', { name: 'Policy comparison' })).toBeNull();
    expect(screen.queryByRole('region', { name: 'Decisions' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Train the model' })).toBeNull();
    expect(fake.calls('GET /tiering/policies')).toEqual([]);
    expect(fake.calls('GET /tiering/decisions')).toEqual([]);
  });
});
