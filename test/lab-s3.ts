/**
 * A raw S3 client (the official SDK, no adapter in between) on the lab's MinIO, or on a private
 * instance's settings: for tests that check what the server itself stored.
 *
 *   const s3 = labS3Client();
 *   (await s3.send(new HeadObjectCommand({ Bucket, Key }))).ServerSideEncryption;
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { labEnv } from './lab.ts';

export function labS3Client(env: Readonly<Record<string, string>> = labEnv(), options: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: env['S3_ENDPOINT'],
    region: env['S3_REGION'],
    forcePathStyle: true,
    credentials: { accessKeyId: env['S3_ACCESS_KEY'] ?? '', secretAccessKey: env['S3_SECRET_KEY'] ?? '' },
    ...options,
  });
}
