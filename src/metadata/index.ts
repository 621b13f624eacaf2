/**
 * The metadata capability's entry point: the port's types and `openMetadataStore`, which picks
 * the adapter from configuration. Adapters are imported on demand so the embedded default
 * does not load `pg`, and a PostgreSQL deployment does not load the WASM build of PostgreSQL.
 */
import type { MetadataStore } from './port.ts';

export type * from './port.ts';
export { ALERT_STATES, AUDIT_ACTIONS, AUDIT_OUTCOMES, FINISHED_JOB_STATES, INVENTORY_SORTS, JOB_STATES, REPLICA_STATES, TIER_DECISION_STATES, VERSION_STATES } from './port.ts';
export { GENESIS_HASH, auditEntryHash, auditRecord, canonicalJson } from './audit-chain.ts';
export type { AuditRecord } from './audit-chain.ts';

export type MetadataConfig =
  /** Embedded PGlite in `dir` (one process per directory). */
  | { readonly kind: 'pglite'; readonly dir: string }
  /** PostgreSQL at `url`, tables in `schema` (default `public`). */
  | { readonly kind: 'postgres'; readonly url: string; readonly schema?: string; readonly poolSize?: number };

/** Open the configured store and bring its schema up to date. */
export async function openMetadataStore(config: MetadataConfig): Promise<MetadataStore> {
  switch (config.kind) {
    case 'pglite': {
      const { openPgliteStore } = await import('./pglite/pglite-store.ts');
      return openPgliteStore({ dir: config.dir });
    }
    case 'postgres': {
      const { openPostgresStore } = await import('./postgres/postgres-store.ts');
      return openPostgresStore({
        url: config.url,
        ...(config.schema === undefined ? {} : { schema: config.schema }),
        ...(config.poolSize === undefined ? {} : { poolSize: config.poolSize }),
      });
    }
  }
}
