/**
 * One API call's state for a view: loading, its answer, or its error; called again when `key`
 * changes and every `refreshMs`. A later answer always wins over an earlier one.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export interface ApiState<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  /** True until the first answer or error. */
  readonly loading: boolean;
  readonly reload: () => void;
}

/** `call` null: nothing to load (the caller may not see it). */
export function useApi<T>(call: (() => Promise<T>) | null, key: string, refreshMs?: number): ApiState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(call !== null);
  const latest = useRef(call);
  latest.current = call;
  const generation = useRef(0);
  const enabled = call !== null;

  const load = useCallback(() => {
    const current = latest.current;
    if (current === null) return;
    const mine = ++generation.current;
    current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(err instanceof Error ? err : new Error(String(err)));
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    if (!enabled) return undefined;
    load();
    if (refreshMs === undefined) return () => void (generation.current += 1);
    const timer = setInterval(load, refreshMs);
    return () => {
      clearInterval(timer);
      generation.current += 1;
    };
  }, [load, key, refreshMs, enabled]);

  return { data, error, loading, reload: load };
}
