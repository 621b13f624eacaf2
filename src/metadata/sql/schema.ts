/**
 * Kysely's view of the tables created by src/metadata/migrations/. Select types are what a
 * driver may hand back *before* normalisation (see rows.ts): `Int8` may come as text or a JS
 * number or bigint depending on the driver, `Json` as a parsed value or text. Nothing outside
 * src/metadata/sql/ sees these types.
 */
import type { ColumnType } from 'kysely';

/** bigint columns: raw on select, number on write. */
export type Int8 = ColumnType<string | number | bigint, number | string, number | string>;
/** Identity columns: raw on select, never written. */
export type Identity = ColumnType<string | number | bigint, never, never>;
/** timestamptz(3): a Date once read; written as an expression (`now()`) or a Date. */
export type Timestamp = ColumnType<Date | string, Date | undefined, Date>;
export type NullableTimestamp = ColumnType<Date | string | null, Date | null | undefined, Date | null>;
/** jsonb: written as JSON text (the server casts it), read parsed or as text. */
export type Json = ColumnType<unknown, string, string>;
export type NullableJson = ColumnType<unknown, string | null | undefined, string | null>;

export interface FilesTable {
  id: Identity;
  key: string;
  content_type: string | null;
  current_version: number | null;
  /** The current version's plaintext size (008_inventory). */
  current_size: ColumnType<string | number | bigint | null, number | null | undefined, number | null>;
  last_version: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface FileVersionsTable {
  file_id: Int8;
  version: number;
  state: string;
  size: ColumnType<string | number | bigint | null, number | null | undefined, number | null>;
  sha256: string | null;
  encryption: Json;
  metadata: ColumnType<unknown, string | undefined, string>;
  written_by: string | null;
  content_type: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ReplicasTable {
  id: Identity;
  file_id: Int8;
  version: number;
  location: string;
  object_key: string;
  state: string;
  stored_size: ColumnType<string | number | bigint | null, number | null | undefined, number | null>;
  checksums: ColumnType<unknown, string | undefined, string>;
  tier: string | null;
  encryption: NullableJson;
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  verified_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PrincipalsTable {
  id: Identity;
  name: string;
  roles: Json;
  token_hash: string;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface AuditLogTable {
  seq: Int8;
  at: ColumnType<Date | string, Date, never>;
  principal: string;
  action: string;
  location: string | null;
  object_key: string | null;
  key_id: string | null;
  sha256: string | null;
  outcome: string;
  details: Json;
  prev_hash: string;
  hash: string;
}

export interface JobsTable {
  /** Written explicitly by enqueueMany (ids reserved from the sequence first). */
  id: ColumnType<string | number | bigint, string | undefined, never>;
  kind: string;
  payload: ColumnType<unknown, string | undefined, string>;
  dedupe_key: string | null;
  state: ColumnType<string, string | undefined, string>;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  run_after: Timestamp;
  locked_by: string | null;
  lease_until: NullableTimestamp;
  last_error: string | null;
  progress: ColumnType<unknown, string | undefined, string>;
  result: NullableJson;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface ConsistencyReportsTable {
  location: string;
  report: ColumnType<unknown, string, string>;
  finished_at: Timestamp;
  last_clean_at: NullableTimestamp;
}

export interface Database {
  files: FilesTable;
  file_versions: FileVersionsTable;
  replicas: ReplicasTable;
  principals: PrincipalsTable;
  audit_log: AuditLogTable;
  jobs: JobsTable;
  consistency_reports: ConsistencyReportsTable;
}
