/**
 * Who is signed in: GET /session on load (whether the browser's cookie holds a live session),
 * then GET /me; the sign-in form when nobody is; sign-out. Every page gets the API client and the caller from here.
 */
import { createContext, useCallback, useContext, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, type ApiClient } from './api/client.ts';
import type { Me } from './api/types.ts';

export interface SessionValue {
  readonly client: ApiClient;
  readonly me: Me;
  readonly signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (value === null) throw new Error('useSession outside <SessionGate>');
  return value;
}

/** For tests and for the gate: a fixed session. */
export const SessionProvider = SessionContext.Provider;

/** What the sign-in link's redirect says went wrong (`/?signin=...`). */
const LINK_PROBLEMS: Readonly<Record<string, string>> = {
  invalid_token: 'The sign-in link holds a token that is not valid (unknown or revoked). Sign in with a token instead.',
  link_disabled: 'Sign-in links work in demo mode only. Sign in with a token instead.',
};

function linkProblem(): string | undefined {
  const params = new URLSearchParams(window.location.search);
  const code = params.get('signin');
  if (code === null) return undefined;
  // Said once: the query string leaves the address bar.
  window.history.replaceState(null, '', window.location.pathname);
  return LINK_PROBLEMS[code] ?? 'Signing in did not work. Sign in with a token instead.';
}

type GateState = { readonly kind: 'loading' } | { readonly kind: 'signed-out'; readonly problem?: string } | { readonly kind: 'signed-in'; readonly me: Me } | { readonly kind: 'error'; readonly message: string };

export function SessionGate({ client, children }: { readonly client: ApiClient; readonly children: ReactNode }) {
  const [state, setState] = useState<GateState>({ kind: 'loading' });

  const load = useCallback(async (problem?: string) => {
    try {
      const session = await client.session();
      if (!session.signed_in) {
        setState({ kind: 'signed-out', ...(problem === undefined ? {} : { problem }) });
        return;
      }
      setState({ kind: 'signed-in', me: await client.me() });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setState({ kind: 'signed-out', ...(problem === undefined ? {} : { problem }) });
      else setState({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  }, [client]);

  useEffect(() => {
    void load(linkProblem());
  }, [load]);

  const signOut = useCallback(async () => {
    await client.signOut();
    setState({ kind: 'signed-out' });
  }, [client]);

  switch (state.kind) {
    case 'loading':
      return (
        <main className="center" aria-busy="true">
          <p className="muted">Loading…</p>
        </main>
      );
    case 'error':
      return (
        <main className="center">
          <div className="card" role="alert">
            <h1>The control plane did not answer</h1>
            <p>{state.message}</p>
            <button type="button" onClick={() => void load()}>
              Try again
            </button>
          </div>
        </main>
      );
    case 'signed-out':
      return <SignIn client={client} problem={state.problem} onSignedIn={() => load()} />;
    case 'signed-in':
      return <SessionContext.Provider value={{ client, me: state.me, signOut }}>{children}</SessionContext.Provider>;
  }
}

function SignIn({ client, problem, onSignedIn }: { readonly client: ApiClient; readonly problem: string | undefined; readonly onSignedIn: () => Promise<void> }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(problem);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await client.signIn(token.trim());
      await onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid (unknown or revoked).' : err instanceof ApiError && err.status === 400 ? 'That is not an API token (they look like mdt_…).' : err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main className="center">
      <form className="card sign-in" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">MovingData mission control</h1>
        <p className="muted">Sign in with an API token. <code>npm start</code> prints a link that signs you in at once.</p>
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellCheck={false} required value={token} onChange={(e) => setToken(e.target.value)} aria-describedby={error === undefined ? undefined : 'sign-in-error'} />
        {error === undefined ? null : (
          <p id="sign-in-error" className="problem" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
