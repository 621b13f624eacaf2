/**
 * The operations pages' API types (web/src/api/ops-types.ts) held to the route schemas at
 * type-check time, like test/web/api-types.ts does for the rest: each line fails to compile when
 * a route's answer, as its TypeBox schema types it, no longer fits what the pages read.
 */
import type { Static } from 'typebox';
import type { AuditVerifyResponse } from '../../src/api/routes/audit.ts';
import type { JobListResponse, StatusResponse } from '../../src/api/routes/consistency.ts';
import type { JobView as JobViewSchema } from '../../src/api/routes/replication.ts';
import type { StreamingMetricsResponse } from '../../src/api/routes/stream.ts';
import type { DecisionView, PolicyComparisonResponse, RecommendationView } from '../../src/api/routes/tiering.ts';
import type { AuditVerify, ConsistencyDetail, Decision, JobList, JobView, PolicyComparison, Recommendation, StreamingDetail } from '../../web/src/api/ops-types.ts';

/** Compiles only when the server's `Served` can be read as the dashboard's `Read`. */
type Fits<Served extends Read, Read> = [Served, Read];

export type OperationsPagesReadWhatTheApiServes = [
  Fits<Static<typeof StatusResponse>, ConsistencyDetail>,
  Fits<Static<typeof JobListResponse>, JobList>,
  Fits<Static<typeof JobViewSchema>, JobView>,
  Fits<Static<typeof RecommendationView>, Recommendation>,
  Fits<Static<typeof DecisionView>, Decision>,
  Fits<Static<typeof PolicyComparisonResponse>, PolicyComparison>,
  Fits<Static<typeof StreamingMetricsResponse>, StreamingDetail>,
  Fits<Static<typeof AuditVerifyResponse>, AuditVerify>,
];
