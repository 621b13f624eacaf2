/** A titled section of a page with its loading and error states. */
import type { ReactNode } from 'react';
import type { ApiState } from '../use-api.ts';

export function Panel<T>({ id, title, state, children, actions, wide = false }: { readonly id: string; readonly title: string; readonly state?: ApiState<T>; readonly children: (data: T) => ReactNode; readonly actions?: ReactNode; readonly wide?: boolean }) {
  const body = (): ReactNode => {
    if (state === undefined) return children(undefined as T);
    if (state.data !== undefined) {
      return (
        <>
          {state.error === undefined ? null : (
            <p className="problem" role="status">
              Could not refresh: {state.error.message}
            </p>
          )}
          {children(state.data)}
        </>
      );
    }
    if (state.error !== undefined) {
      return (
        <div className="problem" role="alert">
          <p>Could not load this: {state.error.message}</p>
          <button type="button" onClick={state.reload}>
            Try again
          </button>
        </div>
      );
    }
    return <p className="muted skeleton">Loading…</p>;
  };
  return (
    <section className={wide ? 'card wide' : 'card'} aria-labelledby={`${id}-title`} aria-busy={state?.loading === true}>
      <header className="card-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {actions}
      </header>
      {body()}
    </section>
  );
}

/** A word with a colour for a status; the word carries the meaning, the colour only helps. */
export function StatusBadge({ status }: { readonly status: string }) {
  const tone = TONES[status] ?? 'bad';
  return <span className={`badge badge-${tone}`}>{LABELS[status] ?? status}</span>;
}

const TONES: Readonly<Record<string, 'good' | 'warn' | 'bad' | 'info'>> = {
  ok: 'good',
  verified: 'good',
  resolved: 'good',
  'open-feed': 'good',
  info: 'info',
  acknowledged: 'info',
  open: 'warn',
  degraded: 'warn',
  pending: 'warn',
  writing: 'warn',
  timeout: 'warn',
  warning: 'warn',
  connecting: 'warn',
  reconnecting: 'warn',
};

const LABELS: Readonly<Record<string, string>> = { 'open-feed': 'live' };
