import { startPrivateServer } from '../../lab/index.ts';
import { labEnv } from '../../../test/lab.ts';
import { bufferBody } from '../conformance/body.ts';
import { runStoreConformance } from '../conformance/suite.ts';
import { MINIO_STORAGE_CLASSES, S3Store, type S3StoreOptions } from './s3-store.ts';

function minio(env: Readonly<Record<string, string>>, bucket: string, overrides: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    location: 'conformance',
    bucket,
    endpoint: env['S3_ENDPOINT']!,
    region: env['S3_REGION']!,
    credentials: { accessKeyId: env['S3_ACCESS_KEY']!, secretAccessKey: env['S3_SECRET_KEY']! },
    forcePathStyle: true,
    sseKms: { keyId: env['S3_SSE_KMS_KEY_ID']! },
    storageClasses: MINIO_STORAGE_CLASSES,
    keyRules: 'minio',
    ...overrides,
  });
}

runStoreConformance({
  name: 's3 (MinIO, SSE-KMS)',
  open: (bucket) => minio(labEnv(), bucket),
  serverLimits: { fileAndDirectory: 'MinIO lists only `a` when both `a` and `a/b` exist (it stores objects as files); S3 lists both' },
  badCredentials: (bucket) => {
    const env = labEnv();
    return minio(env, bucket, { credentials: { accessKeyId: env['S3_ACCESS_KEY']!, secretAccessKey: `${env['S3_SECRET_KEY']!}-wrong` } });
  },
  stoppedServer: async (bucket) => {
    const server = await startPrivateServer('minio');
    try {
      const store = minio(server.env, bucket, { maxAttempts: 2, requestTimeoutMs: 5_000 });
      await store.ensureContainer();
      const body = bufferBody('written before the server stopped');
      await store.put('any/key', body.stream, { size: body.bytes.length });
      await server.stop();
      return { store, cleanup: () => server.dispose() };
    } catch (err) {
      await server.dispose();
      throw err;
    }
  },
});
