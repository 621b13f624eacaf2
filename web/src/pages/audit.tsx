/**
 * Audit: verify the hash chain of the audit trail (GET /audit/verify, on request: it rereads the
 * whole trail) and export it as JSON lines (GET /audit/export, a download link the session
 * cookie authenticates; the export is itself recorded). Admin and system roles only (GET /me
 * `can.audit`).
 */
import { useCallback, useState } from 'react';
import type { AuditVerify } from '../api/ops-types.ts';
import { StatusBadge } from '../components/panel.tsx';
import { formatCount, formatTime } from '../format.ts';
import { useSession } from '../session.tsx';
import { problemText, useOps } from '../use-ops.ts';
import '../ops.css';

type Check = { readonly result: AuditVerify; readonly at: string };

export function Audit() {
  const { me } = useSession();
  const ops = useOps();
  const allowed = me.can.audit === true;
  const [check, setCheck] = useState<Check | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [afterSeq, setAfterSeq] = useState('');

  const verify = useCallback(async () => {
    setBusy(true);
    setError(undefined);
    try {
      setCheck({ result: await ops.verifyAudit(), at: new Date().toISOString() });
    } catch (err) {
      setError(problemText(err));
    } finally {
      setBusy(false);
    }
  }, [ops]);

  if (!allowed) {
    return (
      <div className="page">
        <h1>Audit</h1>
        <p className="muted">The audit trail needs the admin or system role; yours: {me.roles.join(', ')}.</p>
      </div>
    );
  }

  const from = /^\d{1,15}$/.test(afterSeq) ? Number(afterSeq) : undefined;
  const invalidSeq = afterSeq !== '' && from === undefined;
  return (
    <div className="page">
      <h1>Audit</h1>
      <div className="grid">
        <section className="card" aria-labelledby="verify-title" aria-busy={busy}>
          <header className="card-head">
            <h2 id="verify-title">Hash chain</h2>
            {check === undefined ? null : <StatusBadge status={check.result.ok ? 'ok' : 'error'} />}
          </header>
          {error !== undefined ? (
            <p className="problem" role="alert">
              Could not verify: {error}
            </p>
          ) : check === undefined ? (
            <p className="muted">{busy ? 'Verifying…' : 'Not verified yet: verifying rereads every entry and recomputes its hash.'}</p>
          ) : (
            <Verdict check={check} />
          )}
          <button type="button" onClick={() => void verify()} disabled={busy}>
            {busy ? 'Verifying…' : 'Verify the chain'}
          </button>
        </section>
        <section className="card" aria-labelledby="export-title">
          <header className="card-head">
            <h2 id="export-title">Export</h2>
          </header>
          <p>Every entry as JSON lines, in order: who, what, where, the outcome, and each entry's hash and the one before it. The export is itself recorded.</p>
          <div className="ops-filters">
            <label>
              After entry (optional)
              <input type="number" min={0} inputMode="numeric" value={afterSeq} onChange={(e) => setAfterSeq(e.target.value)} aria-invalid={invalidSeq} aria-describedby="after-help" />
            </label>
          </div>
          <p id="after-help" className={invalidSeq ? 'problem small' : 'muted small'}>
            {invalidSeq ? 'A whole number of entries, or empty for all of it.' : 'Empty: the whole trail; a number: only the entries after it.'}
          </p>
          <a className="button" href={ops.auditExportUrl(invalidSeq ? undefined : from)} download={`movingdata-audit${from === undefined ? '' : `-after-${from}`}.ndjson`}>
            Download the audit trail (NDJSON)
          </a>
        </section>
      </div>
    </div>
  );
}

function Verdict({ check }: { readonly check: Check }) {
  const { result } = check;
  return (
    <>
      <p className="figure" role="status">
        <span className="figure-value">{result.ok ? 'Intact' : 'Broken'}</span> {formatCount(result.entries)} {result.entries === 1 ? 'entry' : 'entries'} checked
      </p>
      {result.problem === undefined ? null : (
        <p className="problem" role="alert">
          Entry {result.problem.seq}: {result.problem.kind.replaceAll('_', ' ')}. {result.problem.message}
        </p>
      )}
      {result.head === null ? (
        <p className="muted">The trail is empty.</p>
      ) : (
        <dl className="pairs">
          <div className="pair">
            <dt>Last intact entry</dt>
            <dd>{result.head.seq}</dd>
          </div>
        </dl>
      )}
      {result.head === null ? null : (
        <p className="small">
          Its hash: <code className="ops-mono">{result.head.hash}</code>. Keep it outside MovingData: a cut-off tail, or a rewrite up to the end, only shows against an earlier head.
        </p>
      )}
      <p className="muted small">Checked {formatTime(check.at)}.</p>
    </>
  );
}
