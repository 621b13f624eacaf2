/**
 * MovingData's configuration: read from the environment once at start-up (the seed's variable
 * names, plus a few of our own), validated, frozen, and passed down. Nothing else reads
 * `process.env`.
 *
 * With no variables at all it describes the embedded defaults: PGlite and three local-disk
 * locations (aws, azure, gcp) under one data directory. Setting a provider's endpoint (or its
 * `<PROVIDER>_BACKEND`) switches that location to the real service.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { DEFAULT_ALLOWED_ROLES, SYSTEM_ROLE } from '../access/policy.ts';
import { isWellFormedToken } from '../access/tokens.ts';
import type { KeySource } from '../crypto/keys/local-keyring.ts';
import type { MetadataConfig } from '../metadata/index.ts';
import type { StoreConfig } from '../storage/factory.ts';
import { EnvReader, type Env } from './env.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One storage location: where it stores, how it encrypts, who may use it. */
export interface LocationConfig {
  /** aws, azure or gcp. */
  readonly name: string;
  readonly store: StoreConfig;
  /** Its encryption key setting (`S3_ENCRYPTION_KEY`, ...); the keyring parses it. */
  readonly key: KeySource;
  /** Roles allowed to read and write here; `system` is always among them. */
  readonly allowedRoles: readonly string[];
}

export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly logLevel: LogLevel;
    /** How long graceful shutdown waits for in-flight requests. */
    readonly shutdownTimeoutMs: number;
  };
  /** Everything the embedded defaults keep on disk lives here. */
  readonly dataDir: string;
  /**
   * Demo mode (`--demo`, `MOVINGDATA_DEMO=1`): missing encryption keys are generated and kept
   * under the data directory, and `MOVINGDATA_ADMIN_TOKEN` names an admin token. Never in
   * production: demo keys sit next to the data they protect.
   */
  readonly demo: boolean;
  /** Demo mode only: an admin API token for scripts. */
  readonly adminToken: string | undefined;
  readonly metadata: MetadataConfig;
  /** Storage locations, in the seed's order: aws, azure, gcp. */
  readonly locations: readonly LocationConfig[];
  /** The replication engine: background jobs and the consistency manager. */
  readonly engine: {
    /** Jobs the server's own worker runs at once; 0: none (separate `movingdata worker` processes do the work). */
    readonly workerConcurrency: number;
    /** Seconds between drift scans of every location; 0: on demand only. */
    readonly scanIntervalS: number;
    /** Remove objects the metadata does not know (orphans) on repair; default: report them only. */
    readonly deleteOrphans: boolean;
    /** Attempts per replication or repair job before it is dead-lettered. */
    readonly maxAttempts: number;
    /** Retry delays of failed jobs: exponential from `retryBaseMs`, capped at `retryCapMs`, with full jitter. */
    readonly retryBaseMs: number;
    readonly retryCapMs: number;
    /** How long a claimed job is a worker's without a heartbeat: a dead worker's jobs come back after it. */
    readonly leaseMs: number;
    /** Pause between claims while the queue is empty. */
    readonly pollMs: number;
    /**
     * A copy in flight (`writing`) this long was left by a writer that stopped: the drift scan
     * reports it and its repair settles it; start-up settles such copies too (on embedded
     * metadata, every copy in flight, since the server is then its only writer).
     */
    readonly staleWriteS: number;
  };
  readonly kafka: {
    /** Broker list; undefined means the embedded bus. */
    readonly bootstrap: readonly string[] | undefined;
    readonly topicAccess: string;
    /** The seed's telemetry topic. */
    readonly topicSensor: string;
    /** Partitions of topics created at start-up. */
    readonly partitions: number;
    /** How long a publish may wait for the broker before it fails (the outbox keeps the rows). */
    readonly publishTimeoutMs: number;
  };
  readonly events: {
    /** Background access and telemetry traffic (the seed's ENABLE_SYNTHETIC_LOAD). */
    readonly syntheticLoad: boolean;
    /** Synthetic events per second, each stream. */
    readonly syntheticRate: number;
    readonly syntheticDevices: number;
    /** Run the relay and the consumers in this process (the server does; `movingdata worker` too). */
    readonly consumers: boolean;
    /** Shipped outbox rows and embedded log records are kept this long. */
    readonly retentionS: number;
    /** Devices whose detectors stay in memory (least recently seen evicted). */
    readonly maxDevices: number;
    /** Scored readings kept for /stream/peek. */
    readonly peekKeep: number;
  };
  readonly tiering: {
    /** Seconds between tiering runs (the periodic tiering job); 0: on request only. */
    readonly intervalS: number;
    /** Runs record their decisions without changing anything; default on outside demo mode. */
    readonly dryRun: boolean;
    /** Look-ahead over which a move must pay for itself. */
    readonly horizonDays: number;
    /** Days in a tier before a colder move (hysteresis). */
    readonly hysteresisDays: number;
    /** Model proposals less confident than this keep the tier. */
    readonly minConfidence: number;
    /** Days without a read before a colder move. */
    readonly minIdleDays: number;
    /** The same for a file never read since it was written. */
    readonly minIdleDaysUnread: number;
    /** Negotiated prices merged over the built-in tables (src/tiering/prices/). */
    readonly pricesFile: string | undefined;
  };
  readonly alerts: {
    /** A read slower than this is a latency spike (alert, and the tiering rule's force-hot). */
    readonly latencyMs: number;
    /** Anomaly score at or above which a reading is flagged and alerted; undefined: the detector's NAB-optimised threshold. */
    readonly anomalyScore: number | undefined;
    /** Monthly cost per location above which a cost alert opens (next: the tiering cost model). */
    readonly costMonthlyUsd: number | undefined;
    /** Outbox rows waiting longer than this open an alert. */
    readonly outboxAgeS: number;
    /** A one-off alert (anomaly, latency) resolves after this long without a new occurrence. */
    readonly quietS: number;
  };
}

export const DEFAULT_PORT = 8001;
export const DEFAULT_BUCKETS = { aws: 'netapp-bucket', azure: 'netapp-blob', gcp: 'netapp-gcs' } as const;

/** Parse and validate; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const read = new EnvReader(env);
  const dataDir = resolve(cwd, read.string('MOVINGDATA_DATA_DIR', '.movingdata'));

  if (read.isSet('MONGO_URL')) {
    throw new ConfigError('MONGO_URL', 'the MongoDB metadata adapter is not available yet; unset MONGO_URL and use DATABASE_URL (PostgreSQL) or nothing (embedded PGlite)');
  }

  const demo = read.boolean('MOVINGDATA_DEMO', false);
  const adminToken = read.optional('MOVINGDATA_ADMIN_TOKEN');
  if (adminToken !== undefined && !demo) {
    throw new ConfigError('MOVINGDATA_ADMIN_TOKEN', 'is honoured in demo mode only; outside it, create tokens with `movingdata tokens create --name NAME --roles admin`');
  }
  if (adminToken !== undefined && !isWellFormedToken(adminToken)) {
    throw new ConfigError('MOVINGDATA_ADMIN_TOKEN', 'must be 16 to 512 characters usable in a bearer token (letters, digits, - . _ ~ + /)');
  }

  const config: Config = {
    server: {
      host: read.string('MOVINGDATA_HOST', '127.0.0.1'),
      port: read.integer('PORT', DEFAULT_PORT, { min: 0, max: 65535 }),
      logLevel: read.oneOf('MOVINGDATA_LOG_LEVEL', LOG_LEVELS, 'info'),
      shutdownTimeoutMs: read.integer('MOVINGDATA_SHUTDOWN_TIMEOUT_MS', 10_000, { min: 0, max: 600_000 }),
    },
    dataDir,
    demo,
    adminToken,
    metadata: metadataConfig(read, dataDir),
    locations: [
      location(read, 'aws', 'S3', awsLocation(read, dataDir)),
      location(read, 'azure', 'AZURE', azureLocation(read, dataDir)),
      location(read, 'gcp', 'GCS', gcpLocation(read, dataDir)),
    ],
    engine: {
      workerConcurrency: read.integer('MOVINGDATA_WORKER_CONCURRENCY', 4, { min: 0, max: 256 }),
      scanIntervalS: read.integer('CONSISTENCY_SCAN_INTERVAL_S', 300, { min: 0, max: 7 * 86_400 }),
      deleteOrphans: read.boolean('MOVINGDATA_DELETE_ORPHANS', false),
      maxAttempts: read.integer('MOVINGDATA_JOB_MAX_ATTEMPTS', 10, { min: 1, max: 1000 }),
      retryBaseMs: read.integer('MOVINGDATA_RETRY_BASE_MS', 1000, { min: 1, max: 3_600_000 }),
      retryCapMs: read.integer('MOVINGDATA_RETRY_CAP_MS', 300_000, { min: 1, max: 86_400_000 }),
      leaseMs: read.integer('MOVINGDATA_JOB_LEASE_MS', 30_000, { min: 100, max: 86_400_000 }),
      pollMs: read.integer('MOVINGDATA_JOB_POLL_MS', 1000, { min: 10, max: 60_000 }),
      staleWriteS: read.integer('MOVINGDATA_STALE_WRITE_S', 3600, { min: 1, max: 30 * 86_400 }),
    },
    kafka: {
      bootstrap: kafkaBootstrap(read),
      topicAccess: topicName(read, 'TOPIC_ACCESS', 'access-events'),
      topicSensor: topicName(read, 'TOPIC_SENSOR', 'sensor_stream'),
      partitions: read.integer('KAFKA_PARTITIONS', 6, { min: 1, max: 1024 }),
      publishTimeoutMs: read.integer('KAFKA_PUBLISH_TIMEOUT_MS', 5000, { min: 100, max: 600_000 }),
    },
    events: {
      syntheticLoad: read.boolean('ENABLE_SYNTHETIC_LOAD', false),
      syntheticRate: read.number('SYNTHETIC_EVENTS_PER_S', 5, { min: 0.01, max: 100_000 }),
      syntheticDevices: read.integer('SYNTHETIC_DEVICES', 8, { min: 1, max: 100_000 }),
      consumers: read.boolean('MOVINGDATA_CONSUMERS', true),
      retentionS: read.integer('MOVINGDATA_EVENT_RETENTION_S', 86_400, { min: 1, max: 365 * 86_400 }),
      maxDevices: read.integer('MOVINGDATA_MAX_DEVICES', 1000, { min: 1, max: 1_000_000 }),
      peekKeep: read.integer('MOVINGDATA_PEEK_KEEP', 20_000, { min: 1000, max: 10_000_000 }),
    },
    tiering: {
      intervalS: read.integer('TIERING_INTERVAL_S', 3600, { min: 0, max: 30 * 86_400 }),
      dryRun: read.boolean('TIERING_DRY_RUN', !demo),
      horizonDays: read.integer('TIERING_HORIZON_DAYS', 90, { min: 1, max: 3650 }),
      hysteresisDays: read.integer('TIERING_HYSTERESIS_DAYS', 14, { min: 0, max: 3650 }),
      minConfidence: read.number('TIERING_MIN_CONFIDENCE', 0.5, { min: 0, max: 1 }),
      minIdleDays: read.integer('TIERING_MIN_IDLE_DAYS', 180, { min: 0, max: 3650 }),
      minIdleDaysUnread: read.integer('TIERING_MIN_IDLE_DAYS_UNREAD', 30, { min: 0, max: 3650 }),
      pricesFile: read.isSet('MOVINGDATA_PRICES_FILE') ? resolve(cwd, read.string('MOVINGDATA_PRICES_FILE', '')) : undefined,
    },
    alerts: {
      latencyMs: read.number('ALERT_LATENCY_MS', 1000, { min: 1, max: 3_600_000 }),
      anomalyScore: read.isSet('ALERT_ANOMALY_SCORE') ? read.number('ALERT_ANOMALY_SCORE', 0.5, { min: 0, max: 1 }) : undefined,
      costMonthlyUsd: read.isSet('ALERT_COST_MONTHLY_USD') ? read.number('ALERT_COST_MONTHLY_USD', 0, { min: 0, max: 1e12 }) : undefined,
      outboxAgeS: read.integer('ALERT_OUTBOX_AGE_S', 60, { min: 1, max: 86_400 }),
      quietS: read.integer('ALERT_QUIET_S', 300, { min: 1, max: 7 * 86_400 }),
    },
  };
  return deepFreeze(config);
}

function location(read: EnvReader, name: string, prefix: string, store: StoreConfig): LocationConfig {
  const keyVariable = `${prefix}_ENCRYPTION_KEY`;
  const rolesVariable = `${prefix}_ALLOWED_ROLES`;
  const roles = read.csv(rolesVariable, DEFAULT_ALLOWED_ROLES[name] ?? []);
  for (const role of roles) {
    if (!/^[a-z][a-z0-9_-]{0,63}$/.test(role)) throw new ConfigError(rolesVariable, `roles are lowercase words (letters, digits, - and _), got '${role}'`);
  }
  return {
    name,
    store,
    key: { location: name, variable: keyVariable, value: read.optional(keyVariable) },
    allowedRoles: [...new Set([...roles, SYSTEM_ROLE])],
  };
}

function metadataConfig(read: EnvReader, dataDir: string): MetadataConfig {
  const url = read.url('DATABASE_URL', ['postgres', 'postgresql']);
  if (url === undefined) return { kind: 'pglite', dir: resolve(dataDir, 'metadata') };
  const schema = read.optional('DATABASE_SCHEMA');
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError('DATABASE_SCHEMA', `must be a lowercase SQL identifier, got '${schema}'`);
  }
  return {
    kind: 'postgres',
    url: url.toString(),
    ...(schema === undefined ? {} : { schema }),
    poolSize: read.integer('DATABASE_POOL_SIZE', 10, { min: 1, max: 1000 }),
  };
}

function localLocation(name: string, container: string, dataDir: string): StoreConfig {
  return { provider: 'local', location: name, container, root: resolve(dataDir, 'locations', name, container) };
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** Most parts (blocks) one upload may have in flight. */
const MAX_UPLOAD_CONCURRENCY = 64;

function bucketName(read: EnvReader, variable: string, fallback: string): string {
  const name = read.string(variable, fallback);
  if (!BUCKET_NAME.test(name)) throw new ConfigError(variable, `must be 3-63 lowercase letters, digits, dots or hyphens, got '${name}'`);
  return name;
}

function awsLocation(read: EnvReader, dataDir: string): StoreConfig {
  const bucket = bucketName(read, 'S3_BUCKET', DEFAULT_BUCKETS.aws);
  const endpoint = read.url('S3_ENDPOINT', ['http', 'https']);
  const backend = read.oneOf('S3_BACKEND', ['s3', 'local'], endpoint === undefined ? 'local' : 's3');
  if (backend === 'local') return localLocation('aws', bucket, dataDir);

  const accessKeyId = read.optional('S3_ACCESS_KEY');
  const secretAccessKey = read.optional('S3_SECRET_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(accessKeyId === undefined ? 'S3_ACCESS_KEY' : 'S3_SECRET_KEY', 'S3_ACCESS_KEY and S3_SECRET_KEY go together; set both or neither (neither uses the AWS default credential chain)');
  }
  const onAws = endpoint === undefined || endpoint.hostname.endsWith('.amazonaws.com');
  const tuning = uploadTuning(read, { name: 'S3_UPLOAD_PART_SIZE', min: 5 * MiB, max: 5 * GiB }, 'S3_UPLOAD_CONCURRENCY');
  return {
    provider: 's3',
    location: 'aws',
    container: bucket,
    ...(endpoint === undefined ? {} : { endpoint: endpoint.toString().replace(/\/$/, '') }),
    region: read.string('S3_REGION', 'us-east-1'),
    ...(accessKeyId === undefined || secretAccessKey === undefined ? {} : { credentials: { accessKeyId, secretAccessKey } }),
    forcePathStyle: read.boolean('S3_FORCE_PATH_STYLE', !onAws),
    sseKmsKeyId: sseKmsKeyId(read),
    flavor: read.oneOf('S3_FLAVOR', ['aws', 'minio'], onAws ? 'aws' : 'minio'),
    ...(tuning.size === undefined ? {} : { partSize: tuning.size }),
    ...(tuning.concurrency === undefined ? {} : { queueSize: tuning.concurrency }),
  };
}

/**
 * Part (block) size and parts in flight of a provider's uploads, each only when its variable is
 * set (the store keeps its own default otherwise), like rclone's --s3-chunk-size and
 * --s3-upload-concurrency. They trade memory for speed: S3 uploads share one pool of
 * size × concurrency bytes per location; each Azure upload holds up to size × concurrency.
 */
function uploadTuning(read: EnvReader, size: { name: string; min: number; max: number }, concurrencyName: string): { size?: number; concurrency?: number } {
  const bytes = read.bytes(size.name, size);
  const concurrency = read.isSet(concurrencyName) ? read.integer(concurrencyName, 0, { min: 1, max: MAX_UPLOAD_CONCURRENCY }) : undefined;
  return { ...(bytes === undefined ? {} : { size: bytes }), ...(concurrency === undefined ? {} : { concurrency }) };
}

/** SSE-KMS under `netapp-key` (the lab MinIO's static key) unless named otherwise; `none` turns it off. */
function sseKmsKeyId(read: EnvReader): string | undefined {
  const value = read.string('S3_SSE_KMS_KEY_ID', 'netapp-key');
  return value.toLowerCase() === 'none' ? undefined : value;
}

function azureLocation(read: EnvReader, dataDir: string): StoreConfig {
  const container = bucketName(read, 'AZURE_CONTAINER', DEFAULT_BUCKETS.azure);
  const url = read.url('AZURITE_BLOB_URL', ['http', 'https']);
  const connectionString = read.optional('AZURE_STORAGE_CONNECTION_STRING');
  const backend = read.oneOf('AZURE_BACKEND', ['azure', 'local'], url === undefined && connectionString === undefined ? 'local' : 'azure');
  if (backend === 'local') return localLocation('azure', container, dataDir);

  const tuning = uploadTuning(read, { name: 'AZURE_UPLOAD_BLOCK_SIZE', min: 64 * KiB, max: 4000 * MiB }, 'AZURE_UPLOAD_CONCURRENCY');
  const blocks = { ...(tuning.size === undefined ? {} : { blockSize: tuning.size }), ...(tuning.concurrency === undefined ? {} : { concurrency: tuning.concurrency }) };
  if (connectionString !== undefined) return { provider: 'azure', location: 'azure', container, connectionString, ...blocks };
  // Azurite-style URLs carry the account as their first path segment; real ones as a subdomain.
  const account = read.optional('AZURE_STORAGE_ACCOUNT') ?? (url ? accountFromUrl(url) : undefined);
  if (account === undefined) throw new ConfigError('AZURE_STORAGE_ACCOUNT', 'is required when AZURE_BACKEND=azure without AZURITE_BLOB_URL or AZURE_STORAGE_CONNECTION_STRING');
  const accountUrl = url ? url.toString().replace(/\/$/, '') : `https://${account}.blob.core.windows.net`;
  const accountKey = read.optional('AZURE_STORAGE_KEY');
  const sasToken = read.optional('AZURE_STORAGE_SAS_TOKEN');
  if (accountKey === undefined && sasToken === undefined) {
    throw new ConfigError('AZURE_STORAGE_KEY', `is required for the Azure location at ${accountUrl} (or set AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING)`);
  }
  return {
    provider: 'azure',
    location: 'azure',
    container,
    accountUrl,
    accountName: account,
    ...(accountKey === undefined ? {} : { accountKey }),
    ...(sasToken === undefined ? {} : { sasToken }),
    ...blocks,
  };
}

function accountFromUrl(url: URL): string | undefined {
  const segment = url.pathname.split('/').find((s) => s !== '');
  if (segment !== undefined) return segment;
  const sub = url.hostname.split('.')[0];
  return url.hostname.endsWith('.blob.core.windows.net') ? sub : undefined;
}

function gcpLocation(read: EnvReader, dataDir: string): StoreConfig {
  const bucket = bucketName(read, 'GCS_BUCKET', DEFAULT_BUCKETS.gcp);
  const endpoint = read.url('GCS_ENDPOINT', ['http', 'https']);
  const backend = read.oneOf('GCS_BACKEND', ['gcs', 'local'], endpoint === undefined ? 'local' : 'gcs');
  if (backend === 'local') return localLocation('gcp', bucket, dataDir);
  const projectId = read.optional('GCS_PROJECT_ID');
  const keyFilename = read.optional('GOOGLE_APPLICATION_CREDENTIALS');
  const onGoogle = endpoint === undefined || endpoint.hostname.endsWith('.googleapis.com');
  return {
    provider: 'gcs',
    location: 'gcp',
    container: bucket,
    flavor: read.oneOf('GCS_FLAVOR', ['gcs', 'fake-gcs'], onGoogle ? 'gcs' : 'fake-gcs'),
    ...(endpoint === undefined ? {} : { apiEndpoint: endpoint.toString().replace(/\/$/, '') }),
    ...(projectId === undefined ? {} : { projectId }),
    ...(keyFilename === undefined ? {} : { keyFilename }),
  };
}

/** Kafka's own rule for topic names. */
function topicName(read: EnvReader, name: string, fallback: string): string {
  const topic = read.string(name, fallback);
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic) || topic === '.' || topic === '..') throw new ConfigError(name, `must be a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -), got '${topic}'`);
  return topic;
}

function kafkaBootstrap(read: EnvReader): readonly string[] | undefined {
  const brokers = read.csv('KAFKA_BOOTSTRAP', []);
  if (brokers.length === 0) return undefined;
  for (const broker of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) throw new ConfigError('KAFKA_BOOTSTRAP', `must be host:port[,host:port...], got '${broker}'`);
  }
  return brokers;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
