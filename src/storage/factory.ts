/**
 * From a location's configuration to an open ObjectStore. Adapters are imported on demand, so
 * the embedded defaults never load a cloud SDK and each SDK stays inside its own folder.
 */
import type { ObjectStore } from './port.ts';

interface Common {
  /** Location name: aws, azure or gcp. */
  readonly location: string;
  /** Bucket or container name. */
  readonly container: string;
}

export type StoreConfig =
  | (Common & { readonly provider: 'local'; readonly root: string })
  | (Common & {
      readonly provider: 's3';
      readonly endpoint?: string;
      readonly region: string;
      readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
      readonly forcePathStyle: boolean;
      /** SSE-KMS key id for every write; undefined stores without SSE-KMS. */
      readonly sseKmsKeyId: string | undefined;
      /**
       * What the server is: real S3 (AWS's storage classes, every key), or MinIO (STANDARD and
       * REDUCED_REDUNDANCY only; keys with empty or dot segments refused).
       */
      readonly flavor: 'aws' | 'minio';
      /** Multipart part size in bytes (the store's default when absent). */
      readonly partSize?: number;
      /** Parts in flight across the store's uploads (the store's default when absent). */
      readonly queueSize?: number;
    })
  | (Common & {
      readonly provider: 'azure';
      readonly accountUrl?: string;
      readonly accountName?: string;
      readonly accountKey?: string;
      readonly sasToken?: string;
      readonly connectionString?: string;
      /** Block size in bytes (the store's default when absent). */
      readonly blockSize?: number;
      /** Blocks in flight per upload (the store's default when absent). */
      readonly concurrency?: number;
    })
  | (Common & {
      readonly provider: 'gcs';
      /** Real GCS, or fake-gcs-server (whose filesystem backend cannot store some keys). */
      readonly flavor: 'gcs' | 'fake-gcs';
      readonly apiEndpoint?: string;
      readonly projectId?: string;
      readonly keyFilename?: string;
    });

export async function openStore(config: StoreConfig): Promise<ObjectStore> {
  switch (config.provider) {
    case 'local': {
      const { LocalStore } = await import('./local/local-store.ts');
      return new LocalStore({ location: config.location, root: config.root, container: config.container });
    }
    case 's3': {
      const { S3Store, AWS_STORAGE_CLASSES, MINIO_STORAGE_CLASSES } = await import('./s3/s3-store.ts');
      return new S3Store({
        location: config.location,
        bucket: config.container,
        ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
        region: config.region,
        ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
        forcePathStyle: config.forcePathStyle,
        ...(config.sseKmsKeyId === undefined ? {} : { sseKms: { keyId: config.sseKmsKeyId } }),
        storageClasses: config.flavor === 'aws' ? AWS_STORAGE_CLASSES : MINIO_STORAGE_CLASSES,
        keyRules: config.flavor,
        ...(config.partSize === undefined ? {} : { partSize: config.partSize }),
        ...(config.queueSize === undefined ? {} : { queueSize: config.queueSize }),
      });
    }
    case 'azure': {
      const { AzureBlobStore } = await import('./azure/azure-store.ts');
      const { provider: _provider, ...options } = config;
      return new AzureBlobStore(options);
    }
    case 'gcs': {
      const { GcsStore } = await import('./gcs/gcs-store.ts');
      const { provider: _provider, container, flavor, ...options } = config;
      return new GcsStore({ ...options, bucket: container, keyRules: flavor });
    }
  }
}
