/**
 * Server-side prepared statements for the statements this process repeats.
 *
 * node-postgres sends every parameterised query as an unnamed statement, which PostgreSQL parses
 * and plans again each time. For the request path's statements the planning costs more than
 * the execution (pg_stat_statements on the lab during `npm run bench -- small`: the live-copy
 * lookup of a GET spent 2.0 s planning against 0.4 s executing over 2,200 calls; a write's
 * commit 1.4 s against 1.1 s). A named statement is parsed once per connection, and after a few
 * executions PostgreSQL keeps a generic plan when it costs no more than the custom ones.
 *
 * Kysely's Postgres driver has no hook for statement names (it calls `client.query(text,
 * values)`), so each pooled client's `query` is wrapped as the pool creates it: a text seen
 * before gets a stable name derived from its hash, and node-postgres prepares it on first use
 * per connection. One-off statements (migrations, DDL) and those without parameters run
 * unnamed. A statement whose table changed shape under its plan (`cached plan must not change
 * result type`, after another process migrated) fails once and runs unnamed from then on. The
 * names are bounded: past
 * MAX_NAMED distinct texts, new ones run unnamed, so a process that builds many shapes of one
 * query (IN-lists of every length) cannot fill the server's memory with statements.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';

/** Distinct statement texts that get a name (per process; each connection prepares the ones it runs). */
const MAX_NAMED = 512;
/** Distinct texts counted while looking for repeats. */
const MAX_COUNTED = 4096;

export function prepareRepeatedStatements(pool: pg.Pool): void {
  const names = new Map<string, string | null>();
  const seen = new Set<string>();
  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined) return known ?? undefined;
    // Statements without parameters (begin, commit, DDL) cost nothing to plan.
    if (!text.includes('$1')) return undefined;
    if (!seen.has(text)) {
      if (seen.size < MAX_COUNTED) seen.add(text);
      return undefined;
    }
    if (names.size >= MAX_NAMED) return undefined;
    const name = `md_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
    seen.delete(text);
    return name;
  };
  pool.on('connect', (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    // Only the (text, values) form Kysely uses is named; config objects and cursors pass as they are.
    (client as { query: unknown }).query = (first: unknown, ...rest: unknown[]): unknown => {
      if (typeof first === 'string' && (rest.length === 0 || Array.isArray(rest[0])) && typeof rest[1] !== 'function') {
        const name = nameOf(first);
        if (name !== undefined) {
          return (query({ name, text: first, values: rest[0] ?? [] }) as Promise<unknown>).catch((err: unknown) => {
            // A table this statement reads changed shape under it (a migration by a newer
            // process): PostgreSQL refuses the prepared plan; from now on it runs unnamed.
            if ((err as { code?: unknown }).code === '0A000') names.set(first, null);
            throw err;
          });
        }
      }
      return query(first, ...rest);
    };
  });
}
