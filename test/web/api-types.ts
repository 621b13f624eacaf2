/**
 * The dashboard's API types (web/src/api/types.ts) held to the route schemas at type-check time
 * (`npm run typecheck`, part of `npm test`): each line fails to compile when a route's answer,
 * as its TypeBox schema types it, no longer fits what the dashboard reads. Nothing runs here.
 */
import type { Static } from 'typebox';
import type { StatusResponse } from '../../src/api/routes/consistency.ts';
import type { HealthResponse } from '../../src/api/routes/health.ts';
import type { FileDetail as FileDetailSchema, InventoryItem as InventoryItemSchema, InventorySummary as InventorySummarySchema } from '../../src/api/routes/inventory.ts';
import type { MeView, SessionState as SessionStateSchema, SessionView } from '../../src/api/routes/session.ts';
import type { AlertView, StreamingMetricsResponse } from '../../src/api/routes/stream.ts';
import type { FileDetail, InventoryItem } from '../../web/src/api/inventory-types.ts';
import type { Alert, ConsistencyStatus, Health, InventorySummary, Me, Session, SessionState, StreamingMetrics } from '../../web/src/api/types.ts';

/** Compiles only when the server's `Served` can be read as the dashboard's `Read`. */
type Fits<Served extends Read, Read> = [Served, Read];

export type DashboardReadsWhatTheApiServes = [
  Fits<Static<typeof HealthResponse>, Health>,
  Fits<Static<typeof SessionView>, Session>,
  Fits<Static<typeof SessionStateSchema>, SessionState>,
  Fits<Static<typeof MeView>, Me>,
  Fits<Static<typeof InventorySummarySchema>, InventorySummary>,
  Fits<Static<typeof InventoryItemSchema>, InventoryItem>,
  Fits<Static<typeof FileDetailSchema>, FileDetail>,
  Fits<Static<typeof StatusResponse>, ConsistencyStatus>,
  Fits<Static<typeof AlertView>, Alert>,
  Fits<Static<typeof StreamingMetricsResponse>, StreamingMetrics>,
];
