/**
 * Tiering: the recommendations (tier now, recommended tier, confidence, expected saving and
 * every rule's verdict) at the caller's locations and their projected saving; for operators,
 * the decisions of tiering runs with their reasons, the policy comparison (ours against
 * always-hot, lifecycle 30/90, S3 Intelligent-Tiering and the offline optimum, over the stored
 * access statistics), the model in use with its metrics, and "Train the model".
 */
import { useCallback, useState } from 'react';
import type { Decision, ModelInfo, ModelMetrics, PolicyComparison, Recommendation, RecommendationPage, TieringCosts } from '../api/ops-types.ts';
import { Panel } from '../components/panel.tsx';
import { formatAgo, formatBytes, formatCount, formatTime } from '../format.ts';
import { formatOver, formatShare, formatUsd } from '../ops-format.ts';
import { useSession } from '../session.tsx';
import { useApi } from '../use-api.ts';
import { problemText, useOps } from '../use-ops.ts';
import '../ops.css';

const REFRESH_MS = 30_000;

export function Tiering() {
  const { me } = useSession();
  const ops = useOps();
  const operator = me.can.view_operations;
  const [changesOnly, setChangesOnly] = useState(true);
  const [generation, setGeneration] = useState(0);
  const reloadAll = useCallback(() => setGeneration((g) => g + 1), []);
  const recommendations = useApi(() => ops.recommendations({ changes_only: changesOnly, limit: 50 }), `rec-${changesOnly}-${generation}`, REFRESH_MS);
  const costs = useApi(() => ops.costs(), `costs-${generation}`, REFRESH_MS);
  const policies = useApi(operator ? () => ops.policies() : null, `policies-${generation}`);
  const model = useApi(() => ops.model(), `model-${generation}`);
  const decisions = useApi(operator ? () => ops.decisions({ limit: 25 }) : null, `decisions-${generation}`, REFRESH_MS);
  const [notice, setNotice] = useState('');
  const [training, setTraining] = useState(false);
  const [running, setRunning] = useState(false);

  const train = async () => {
    setTraining(true);
    setNotice('Training the model on the stored access statistics…');
    try {
      const reply = await ops.train();
      const m = reply.model.metrics;
      setNotice(`Trained model version ${reply.model.version} (${reply.model.kind}) on ${formatCount(reply.model.records)} records: held-out accuracy ${typeof m['accuracy'] === 'number' ? formatShare(m['accuracy']) : '—'}.`);
      reloadAll();
    } catch (err) {
      setNotice(`Could not train: ${problemText(err)}`);
    } finally {
      setTraining(false);
    }
  };

  const dryRun = async () => {
    setRunning(true);
    try {
      const report = await ops.dryRun();
      setNotice(`Dry run ${report.run_id}: ${formatCount(report.considered)} copies considered, ${formatCount(report.decisions.length)} decisions, expected saving ${formatUsd(report.expected_monthly_saving)} a month.`);
      reloadAll();
    } catch (err) {
      setNotice(`Could not run tiering: ${problemText(err)}`);
    } finally {
      setRunning(false);
    }
  };

  return (
    <div className="page">
      <h1>Tiering</h1>
      <div className="ops-toolbar">
        <label className="check">
          <input type="checkbox" checked={changesOnly} onChange={(e) => setChangesOnly(e.target.checked)} /> Only recommendations that change something
        </label>
        {operator ? (
          <>
            <button type="button" onClick={() => void train()} disabled={training}>
              {training ? 'Training…' : 'Train the model'}
            </button>
            <button type="button" className="secondary" onClick={() => void dryRun()} disabled={running}>
              {running ? 'Running…' : 'Dry run now'}
            </button>
          </>
        ) : null}
        <button type="button" className="secondary" onClick={reloadAll}>
          Refresh
        </button>
      </div>
      <p className={notice === '' ? 'sr-only' : 'notice'} role="status" aria-live="polite">
        {notice}
      </p>
      <div className="grid">
        <Panel id="saving" title="Projected saving" state={costs}>
          {(data: TieringCosts) => <Saving costs={data} />}
        </Panel>
        <Panel id="model" title="Model" state={model}>
          {(data: ModelInfo) => <ModelCard model={data} />}
        </Panel>
        {operator ? (
          <Panel id="policies" title="Policy comparison" state={policies} wide>
            {(data: PolicyComparison) => <PolicyTable comparison={data} />}
          </Panel>
        ) : null}
        <Panel id="recommendations" title="Recommendations" state={recommendations} wide>
          {(data: RecommendationPage) => <Recommendations page={data} changesOnly={changesOnly} />}
        </Panel>
        {operator ? (
          <Panel id="decisions" title="Decisions" state={decisions} wide>
            {(data: { decisions: readonly Decision[] }) => <Decisions decisions={data.decisions} />}
          </Panel>
        ) : null}
      </div>
    </div>
  );
}

function Saving({ costs }: { readonly costs: TieringCosts }) {
  const t = costs.total;
  return (
    <>
      <p className="figure">
        <span className="figure-value">{formatUsd(t.projected_monthly_saving)}</span> a month
      </p>
      <dl className="ops-figures">
        <div className="ops-figure">
          <dt>Now</dt>
          <dd>{formatUsd(t.monthly_cost)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Recommended</dt>
          <dd>{formatUsd(t.recommended_monthly_cost)}</dd>
        </div>
      </dl>
      <p className="muted small">
        {formatCount(t.files)} copies, {formatBytes(t.bytes)}, at the locations you may see (GET /tiering/costs).
      </p>
    </>
  );
}

function metric(metrics: ModelMetrics | null, name: string): number | undefined {
  const v = metrics?.[name];
  return typeof v === 'number' ? v : undefined;
}

function ModelCard({ model }: { readonly model: ModelInfo }) {
  const accuracy = metric(model.metrics, 'accuracy');
  const logLoss = metric(model.metrics, 'log_loss');
  const heldOut = metric(model.metrics, 'held_out');
  const latest = model.history[0];
  return (
    <>
      <p className="figure">
        <span className="figure-value">{model.version === null ? (model.source === 'default' ? 'default' : 'none') : `v${model.version}`}</span> {model.kind ?? 'rules alone'}
      </p>
      <dl className="ops-figures" aria-label="Model metrics">
        <div className="ops-figure">
          <dt>Accuracy</dt>
          <dd data-testid="model-accuracy">{accuracy === undefined ? '—' : formatShare(accuracy)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Log loss</dt>
          <dd>{logLoss === undefined ? '—' : logLoss.toFixed(3)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Held out</dt>
          <dd>{heldOut === undefined ? '—' : formatCount(heldOut)}</dd>
        </div>
        <div className="ops-figure">
          <dt>Trained on</dt>
          <dd>{model.trained_on_records === null ? '—' : formatCount(model.trained_on_records)}</dd>
        </div>
      </dl>
      <p className="muted small">
        {model.source === 'trained' && latest !== undefined
          ? `Trained on ${latest.trained_on} by ${latest.created_by}, ${formatAgo(latest.created_at)}; ${model.features.length} features.`
          : model.source === 'default'
            ? 'The default model shipped with MovingData (no metrics of its own here): train one on your access statistics.'
            : 'No model: the rules alone decide.'}
      </p>
    </>
  );
}

function PolicyTable({ comparison }: { readonly comparison: PolicyComparison }) {
  if (comparison.policies.length === 0) return <p className="muted">No committed files with access statistics yet: nothing to compare.</p>;
  const max = Math.max(...comparison.policies.map((p) => p.total));
  // Every policy at the lowest cost (the optimum aside) is the cheapest: ties are common on a short history.
  const lowest = Math.min(...comparison.policies.filter((p) => p.kind !== 'optimum').map((p) => p.total));
  const cheapest = (p: PolicyComparison['policies'][number]) => p.kind !== 'optimum' && p.total <= lowest * (1 + 1e-9);
  return (
    <>
      <div className="table-scroll">
        <table>
          <caption className="sr-only">Cost of each tiering policy over the stored access statistics</caption>
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col" className="num">
                {comparison.days} days
              </th>
              <th scope="col" className="num">
                A month
              </th>
              <th scope="col" className="num">
                Vs optimum
              </th>
              <th scope="col" className="hide-narrow">
                <span className="sr-only">Bar</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {comparison.policies.map((p) => (
              <tr key={p.name}>
                <th scope="row">
                  {p.label}
                  {cheapest(p) ? (
                    <>
                      {' '}
                      <span className="badge badge-good">cheapest</span>
                    </>
                  ) : null}
                </th>
                <td className="num">{formatUsd(p.total)}</td>
                <td className="num">{formatUsd(p.monthly)}</td>
                <td className="num">{p.kind === 'optimum' ? '—' : formatOver(p.over_optimum)}</td>
                <td className="hide-narrow" aria-hidden="true">
                  <div className={`ops-bar ${p.kind}`}>
                    <span style={{ width: `${max > 0 ? (p.total / max) * 100 : 0}%` }} />
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {comparison.policies.every((p) => Math.abs(p.total - lowest) <= lowest * 1e-9 + 1e-12) ? (
        <p className="small" role="note">
          Every policy costs the same here: no copy has been stored, or left unread, long enough for any of them to move it yet (the lifecycle rule moves a copy at 30 days; ours waits until it has been idle for months).
        </p>
      ) : null}
      <p className="muted small">
        {formatCount(comparison.files)} copies ({formatBytes(comparison.bytes)}){comparison.truncated ? ', a sample' : ''}, their last {comparison.days} days of reads, billed at {comparison.prices}; model {comparison.model.version === null ? comparison.model.source : `v${comparison.model.version}`}; computed in {formatCount(comparison.elapsed_ms)} ms.
      </p>
    </>
  );
}

function Reasons({ reasons }: { readonly reasons: ReadonlyArray<{ readonly rule: string; readonly verdict: string; readonly detail: string }> }) {
  if (reasons.length === 0) return <span className="muted">—</span>;
  const decisive = reasons.filter((r) => r.verdict === 'applied' || r.verdict === 'blocked');
  return (
    <details>
      <summary>{decisive.length > 0 ? decisive.map((r) => `${r.rule} ${r.verdict}`).join(', ') : `${reasons.length} rules passed`}</summary>
      <ul className="ops-reasons">
        {reasons.map((r) => (
          <li key={r.rule}>
            <strong>{r.rule}</strong> {r.verdict}: {r.detail}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Recommendations({ page, changesOnly }: { readonly page: RecommendationPage; readonly changesOnly: boolean }) {
  if (page.items.length === 0) return <p className="muted">{changesOnly ? 'Every copy is in its recommended tier.' : 'No copies at the locations you may see.'}</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">Recommended tier per copy, with the expected saving and the reasons</caption>
        <thead>
          <tr>
            <th scope="col">Copy</th>
            <th scope="col">Tier</th>
            <th scope="col" className="num">
              Confidence
            </th>
            <th scope="col" className="num">
              Saving / month
            </th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {page.items.map((r: Recommendation) => (
            <tr key={`${r.location}/${r.key}`}>
              <th scope="row">
                <span className="muted">{r.location}</span> <span className="ops-mono">{r.key}</span>
                <div className="small muted">{formatBytes(r.size)}</div>
              </th>
              <td>
                {r.tier} → <strong>{r.recommended}</strong>
                {r.to_location !== r.location ? <span className="small"> at {r.to_location}</span> : null}
                <div className="small muted">
                  {r.source === 'model' ? `model proposed ${r.proposed}` : `rules proposed ${r.proposed}`}
                </div>
              </td>
              <td className="num">{formatShare(r.confidence)}</td>
              <td className="num">
                {formatUsd(r.expected_monthly_saving)}
                {r.move_cost > 0 ? <div className="small muted">once {formatUsd(r.move_cost)}</div> : null}
              </td>
              <td>
                <Reasons reasons={r.reasons} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const DECISION_TONES: Readonly<Record<string, string>> = { applied: 'good', queued: 'warn', dry_run: 'info', failed: 'bad' };

function ruleReasons(d: Decision): Array<{ rule: string; verdict: string; detail: string }> {
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
  return d.rules.map((r) => ({ rule: text(r['rule'], '?'), verdict: text(r['verdict'], ''), detail: text(r['detail'], '') }));
}

function Decisions({ decisions }: { readonly decisions: readonly Decision[] }) {
  if (decisions.length === 0) return <p className="muted">No tiering decisions yet: a tiering run (or "Dry run now") records one per change.</p>;
  return (
    <div className="table-scroll">
      <table>
        <caption className="sr-only">Tiering decisions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Copy</th>
            <th scope="col">Change</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              Saving / month
            </th>
            <th scope="col">Why</th>
            <th scope="col" className="hide-narrow">
              When
            </th>
          </tr>
        </thead>
        <tbody>
          {decisions.map((d) => (
            <tr key={d.id}>
              <th scope="row">
                <span className="muted">{d.location}</span> <span className="ops-mono">{d.key}</span>
              </th>
              <td>
                {d.from_tier} → <strong>{d.to_tier}</strong>
                {d.to_location !== d.location ? <span className="small"> at {d.to_location}</span> : null}
                <div className="small muted">confidence {formatShare(d.confidence)}</div>
              </td>
              <td>
                <span className={`badge badge-${DECISION_TONES[d.state] ?? 'info'}`}>{d.state.replace('_', ' ')}</span>
                {d.error === null ? null : <div className="small problem">{d.error}</div>}
              </td>
              <td className="num">{formatUsd(d.expected_monthly_saving)}</td>
              <td>
                <Reasons reasons={ruleReasons(d)} />
              </td>
              <td className="hide-narrow">
                <time dateTime={d.created_at} title={formatTime(d.created_at)}>
                  {formatAgo(d.created_at)}
                </time>{' '}
                <span className="small muted">by {d.created_by}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
