/** The operations pages' API (api/ops.ts) over the session's client. */
import { useMemo } from 'react';
import { OpsApi } from './api/ops.ts';
import { useSession } from './session.tsx';

export function useOps(): OpsApi {
  const { client } = useSession();
  return useMemo(() => new OpsApi(client), [client]);
}

/** An error as one line, with the API's stable code when there is one. */
export function problemText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && code !== 'unexpected' ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
