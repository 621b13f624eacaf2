import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { loadConfig } from './config.ts';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, '/srv/app');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('describes the embedded defaults when nothing is set', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8001, logLevel: 'info', shutdownTimeoutMs: 10_000 });
    expect(config.dataDir).toBe('/srv/app/.movingdata');
    expect(config.metadata).toEqual({ kind: 'pglite', dir: '/srv/app/.movingdata/metadata' });
    expect(config.locations.map((l) => l.store)).toEqual([
      { provider: 'local', location: 'aws', container: 'netapp-bucket', root: '/srv/app/.movingdata/locations/aws/netapp-bucket' },
      { provider: 'local', location: 'azure', container: 'netapp-blob', root: '/srv/app/.movingdata/locations/azure/netapp-blob' },
      { provider: 'local', location: 'gcp', container: 'netapp-gcs', root: '/srv/app/.movingdata/locations/gcp/netapp-gcs' },
    ]);
    expect(config.demo).toBe(false);
    expect(config.locations.map((l) => [l.name, l.key.variable, l.key.value, l.allowedRoles])).toEqual([
      ['aws', 'S3_ENCRYPTION_KEY', undefined, ['admin', 'analytics', 'system']],
      ['azure', 'AZURE_ENCRYPTION_KEY', undefined, ['admin', 'operations', 'system']],
      ['gcp', 'GCS_ENCRYPTION_KEY', undefined, ['admin', 'compliance', 'system']],
    ]);
    expect(config.kafka).toEqual({ bootstrap: undefined, topicAccess: 'access-events', topicSensor: 'sensor_stream', partitions: 6, publishTimeoutMs: 5000 });
    expect(config.events).toEqual({ syntheticLoad: false, syntheticRate: 5, syntheticDevices: 8, consumers: true, retentionS: 86_400, maxDevices: 1000, peekKeep: 20_000 });
    expect(config.alerts).toEqual({ latencyMs: 1000, anomalyScore: undefined, costMonthlyUsd: undefined, outboxAgeS: 60, quietS: 300 });
    expect(config.engine).toEqual({ workerConcurrency: 4, scanIntervalS: 300, deleteOrphans: false, maxAttempts: 10, retryBaseMs: 1000, retryCapMs: 300_000, leaseMs: 30_000, pollMs: 1000, staleWriteS: 3600 });
    expect(Object.isFrozen(config.locations[0])).toBe(true);
  });

  it('reads the engine settings and names a bad one', () => {
    const config = loadConfig({ MOVINGDATA_WORKER_CONCURRENCY: '0', CONSISTENCY_SCAN_INTERVAL_S: '30', MOVINGDATA_DELETE_ORPHANS: 'true', MOVINGDATA_JOB_MAX_ATTEMPTS: '3' }, '/srv/app');
    expect(config.engine).toMatchObject({ workerConcurrency: 0, scanIntervalS: 30, deleteOrphans: true, maxAttempts: 3 });
    expect(configError({ CONSISTENCY_SCAN_INTERVAL_S: '-1' }).variable).toBe('CONSISTENCY_SCAN_INTERVAL_S');
    expect(configError({ MOVINGDATA_WORKER_CONCURRENCY: 'many' }).variable).toBe('MOVINGDATA_WORKER_CONCURRENCY');
  });

  it('uses the real servers when the lab variables are set', () => {
    const config = loadConfig(
      {
        S3_ENDPOINT: 'http://127.0.0.1:9000',
        S3_ACCESS_KEY: 'lab-user',
        S3_SECRET_KEY: 'lab-secret',
        S3_SSE_KMS_KEY_ID: 'netapp-key',
        AZURITE_BLOB_URL: 'http://127.0.0.1:10000/devstoreaccount1',
        AZURE_STORAGE_KEY: 'a2V5',
        GCS_ENDPOINT: 'http://127.0.0.1:4443',
        GCS_PROJECT_ID: 'movingdata-lab',
        KAFKA_BOOTSTRAP: '127.0.0.1:9092',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/movingdata',
        PORT: '9100',
      },
      '/srv/app',
    );
    expect(config.server.port).toBe(9100);
    expect(config.metadata).toMatchObject({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/movingdata' });
    expect(config.locations[0]?.store).toEqual({
      provider: 's3',
      location: 'aws',
      container: 'netapp-bucket',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      credentials: { accessKeyId: 'lab-user', secretAccessKey: 'lab-secret' },
      forcePathStyle: true,
      sseKmsKeyId: 'netapp-key',
      flavor: 'minio',
    });
    expect(config.locations[1]?.store).toEqual({
      provider: 'azure',
      location: 'azure',
      container: 'netapp-blob',
      accountUrl: 'http://127.0.0.1:10000/devstoreaccount1',
      accountName: 'devstoreaccount1',
      accountKey: 'a2V5',
    });
    expect(config.locations[2]?.store).toEqual({ provider: 'gcs', location: 'gcp', container: 'netapp-gcs', flavor: 'fake-gcs', apiEndpoint: 'http://127.0.0.1:4443', projectId: 'movingdata-lab' });
    expect(config.kafka.bootstrap).toEqual(['127.0.0.1:9092']);
  });

  it('targets real AWS with the default credential chain when S3_BACKEND=s3 and no endpoint', () => {
    const config = loadConfig({ S3_BACKEND: 's3', S3_REGION: 'eu-west-1' }, '/srv/app');
    expect(config.locations[0]?.store).toMatchObject({ provider: 's3', region: 'eu-west-1', forcePathStyle: false, flavor: 'aws', sseKmsKeyId: 'netapp-key' });
    expect(config.locations[0]?.store).not.toHaveProperty('credentials');
    expect(config.locations[0]?.store).not.toHaveProperty('endpoint');
    expect(loadConfig({ S3_BACKEND: 's3', S3_SSE_KMS_KEY_ID: 'none' }, '/srv/app').locations[0]?.store).toMatchObject({ sseKmsKeyId: undefined });
  });

  it('reads upload part sizes in bytes or binary units, and parts in flight, per provider', () => {
    const lab = { S3_ENDPOINT: 'http://127.0.0.1:9000', AZURITE_BLOB_URL: 'http://127.0.0.1:10000/devstoreaccount1', AZURE_STORAGE_KEY: 'a2V5' };
    const stores = (env: Record<string, string>) => loadConfig({ ...lab, ...env }, '/srv/app').locations.map((l) => l.store);
    expect(stores({ S3_UPLOAD_PART_SIZE: '16M', S3_UPLOAD_CONCURRENCY: '2', AZURE_UPLOAD_BLOCK_SIZE: '512K', AZURE_UPLOAD_CONCURRENCY: '8' }).slice(0, 2)).toMatchObject([
      { provider: 's3', partSize: 16 * 1024 * 1024, queueSize: 2 },
      { provider: 'azure', blockSize: 512 * 1024, concurrency: 8 },
    ]);
    for (const spelling of ['16777216', '16mi', '16MiB', '16 MB', '16m']) expect(stores({ S3_UPLOAD_PART_SIZE: spelling })[0]).toMatchObject({ partSize: 16 * 1024 * 1024 });
    expect(stores({ S3_UPLOAD_PART_SIZE: '5G' })[0]).toMatchObject({ partSize: 5 * 1024 ** 3 });
    // Unset: no field, so each store keeps its own default.
    const [s3, azure] = stores({});
    expect(s3).not.toHaveProperty('partSize');
    expect(s3).not.toHaveProperty('queueSize');
    expect(azure).not.toHaveProperty('blockSize');
    expect(azure).not.toHaveProperty('concurrency');
    const viaConnectionString = loadConfig({ AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', AZURE_UPLOAD_BLOCK_SIZE: '4M' }, '/srv/app').locations[1]?.store;
    expect(viaConnectionString).toMatchObject({ provider: 'azure', connectionString: 'UseDevelopmentStorage=true', blockSize: 4 * 1024 * 1024 });
  });

  it('reads keys and roles per location, always adding system', () => {
    const config = loadConfig({ S3_ENCRYPTION_KEY: 'AGE-SECRET-KEY-1XYZ', AZURE_ALLOWED_ROLES: 'ops, auditors', MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: 'demo-admin-token-123456' }, '/srv/app');
    expect(config.locations[0]?.key).toEqual({ location: 'aws', variable: 'S3_ENCRYPTION_KEY', value: 'AGE-SECRET-KEY-1XYZ' });
    expect(config.locations[1]?.allowedRoles).toEqual(['ops', 'auditors', 'system']);
    expect(config.demo).toBe(true);
    expect(config.adminToken).toBe('demo-admin-token-123456');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT', 'must be an integer'],
    [{ PORT: '70000' }, 'PORT', 'between 0 and 65535'],
    [{ S3_ENDPOINT: 'not a url' }, 'S3_ENDPOINT', 'must be a URL'],
    [{ S3_ENDPOINT: 'ftp://host' }, 'S3_ENDPOINT', 'must use http or https'],
    [{ S3_ENDPOINT: 'http://h:9000', S3_ACCESS_KEY: 'only-half' }, 'S3_SECRET_KEY', 'go together'],
    [{ S3_BUCKET: 'Bad_Bucket' }, 'S3_BUCKET', 'lowercase'],
    [{ S3_BACKEND: 'ftp' }, 'S3_BACKEND', 'one of s3, local'],
    [{ AZURITE_BLOB_URL: 'http://127.0.0.1:10000/devstoreaccount1' }, 'AZURE_STORAGE_KEY', 'is required'],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL', 'postgres or postgresql'],
    [{ KAFKA_BOOTSTRAP: 'broker-without-port' }, 'KAFKA_BOOTSTRAP', 'host:port'],
    [{ TOPIC_SENSOR: 'sensor stream' }, 'TOPIC_SENSOR', 'Kafka topic name'],
    [{ ALERT_ANOMALY_SCORE: '1.5' }, 'ALERT_ANOMALY_SCORE', ''],
    [{ ENABLE_SYNTHETIC_LOAD: 'sometimes' }, 'ENABLE_SYNTHETIC_LOAD', ''],
    [{ MOVINGDATA_LOG_LEVEL: 'loud' }, 'MOVINGDATA_LOG_LEVEL', 'one of'],
    [{ MONGO_URL: 'mongodb://mongo:27017' }, 'MONGO_URL', 'not available yet'],
    [{ MOVINGDATA_ADMIN_TOKEN: 'some-long-admin-token' }, 'MOVINGDATA_ADMIN_TOKEN', 'demo mode only'],
    [{ MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: 'short' }, 'MOVINGDATA_ADMIN_TOKEN', '16 to 512'],
    [{ GCS_ALLOWED_ROLES: 'Admin' }, 'GCS_ALLOWED_ROLES', 'lowercase'],
    [{ MOVINGDATA_DEMO: 'maybe' }, 'MOVINGDATA_DEMO', 'boolean'],
    [{ S3_ENDPOINT: 'http://h:9000', S3_UPLOAD_PART_SIZE: '4M' }, 'S3_UPLOAD_PART_SIZE', 'between 5 MiB and 5 GiB, got 4 MiB'],
    [{ S3_ENDPOINT: 'http://h:9000', S3_UPLOAD_PART_SIZE: '1.5M' }, 'S3_UPLOAD_PART_SIZE', 'must be a size in bytes'],
    [{ S3_ENDPOINT: 'http://h:9000', S3_UPLOAD_PART_SIZE: 'big' }, 'S3_UPLOAD_PART_SIZE', 'must be a size in bytes'],
    [{ S3_ENDPOINT: 'http://h:9000', S3_UPLOAD_CONCURRENCY: '0' }, 'S3_UPLOAD_CONCURRENCY', 'between 1 and 64'],
    [{ AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', AZURE_UPLOAD_BLOCK_SIZE: '1K' }, 'AZURE_UPLOAD_BLOCK_SIZE', 'between 64 KiB and 4000 MiB'],
    [{ AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', AZURE_UPLOAD_CONCURRENCY: 'many' }, 'AZURE_UPLOAD_CONCURRENCY', 'must be an integer'],
  ])('rejects %j naming %s', (env, variable, fragment) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(variable);
    expect(err.message).toContain(fragment);
  });
});
