/**
 * What the inventory routes answer (src/api/routes/inventory.ts: GET /files, GET
 * /inventory/files/{location}/{key}), as the Inventory page reads it. Held to the route schemas
 * by the root type-check (test/web/api-types.ts). Types only.
 */

export type InventorySort = 'key' | 'size' | 'updated_at';
export type SortOrder = 'asc' | 'desc';
export type TierClass = 'hot' | 'cool' | 'cold' | 'archive';
export type ReplicaState = 'pending' | 'writing' | 'verified' | 'failed' | 'deleted';

export interface Recommendation {
  readonly tier: string;
  readonly confidence: number;
  readonly change: string;
  readonly to_location: string;
  readonly state: string;
  readonly expected_monthly_saving: number;
  readonly decided_at: string;
}

export interface ReplicaView {
  readonly location: string;
  readonly version: number;
  readonly sha256: string | null;
  readonly size: number | null;
  readonly stale: boolean;
  readonly state: string;
  readonly object_key: string;
  readonly stored_size: number | null;
  readonly checksums: Readonly<Record<string, string>>;
  readonly tier: string | null;
  readonly key_id: string | null;
  readonly attempts: number;
  readonly last_error: string | null;
  readonly verified_at: string | null;
  readonly encryption: string | null;
  readonly tier_class: string | null;
  readonly monthly_cost_usd: number | null;
  readonly recommendation: Recommendation | null;
}

export interface FileAlert {
  readonly kind: string;
  readonly location: string;
  readonly message: string;
}

export interface InventoryItem {
  readonly key: string;
  readonly content_type: string | null;
  readonly version: number | null;
  readonly size: number | null;
  readonly sha256: string | null;
  readonly written_by: string | null;
  readonly updated_at: string;
  readonly replicas: readonly ReplicaView[];
  readonly monthly_cost_usd: number;
  readonly alerts: readonly FileAlert[];
}

/** GET /files */
export interface InventoryPage {
  readonly items: readonly InventoryItem[];
  readonly next_cursor: string | null;
}

export interface InventoryQuery {
  readonly prefix?: string;
  readonly location?: string;
  readonly state?: ReplicaState;
  readonly tier?: TierClass;
  readonly q?: string;
  readonly sort?: InventorySort;
  readonly order?: SortOrder;
  readonly cursor?: string;
  readonly limit?: number;
}

/** GET /inventory/files/{location}/{key} */
export interface FileDetail {
  readonly file: InventoryItem;
  readonly versions: ReadonlyArray<{
    readonly version: number;
    readonly state: string;
    readonly size: number | null;
    readonly sha256: string | null;
    readonly encryption: string;
    readonly content_type: string | null;
    readonly metadata: Readonly<Record<string, string>>;
    readonly written_by: string | null;
    readonly created_at: string;
    readonly current: boolean;
  }>;
  readonly history: ReadonlyArray<{
    readonly location: string;
    readonly version: number;
    readonly state: string;
    readonly object_key: string;
    readonly checksums: Readonly<Record<string, string>>;
    readonly key_id: string | null;
    readonly updated_at: string;
  }>;
  readonly audit: ReadonlyArray<{
    readonly seq: number;
    readonly at: string;
    readonly principal: string;
    readonly action: string;
    readonly location: string | null;
    readonly outcome: string;
    readonly sha256: string | null;
    readonly key_id: string | null;
  }>;
  readonly access: ReadonlyArray<{
    readonly location: string;
    readonly last_read_at: string | null;
    readonly last_write_at: string | null;
    readonly days: ReadonlyArray<{ readonly day: string; readonly reads: number; readonly writes: number; readonly deletes: number; readonly bytes_read: number; readonly bytes_written: number }>;
  }>;
  readonly decisions: ReadonlyArray<{
    readonly id: string;
    readonly run_id: string;
    readonly location: string;
    readonly version: number;
    readonly change: string;
    readonly from_tier: string;
    readonly to_tier: string;
    readonly to_location: string;
    readonly proposed: string;
    readonly confidence: number;
    readonly expected_monthly_saving: number;
    readonly move_cost: number;
    readonly state: string;
    readonly error: string | null;
    readonly created_by: string;
    readonly created_at: string;
  }>;
}

/** What POST /files/{key}/replicate and /move answer. */
export interface OperationResult {
  readonly ok: boolean;
  readonly key: string;
  readonly jobs: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly state: string; readonly last_error: string | null }>;
}

/** What PUT /files/{location}/{key} answers. */
export interface UploadResult {
  readonly location: string;
  readonly key: string;
  readonly version: number;
  readonly size: number;
  readonly sha256: string;
}
