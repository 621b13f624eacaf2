/**
 * How tests reach the lab: the Vitest global setup (test/global-setup.ts) starts it once per run
 * and provides its connection settings; `labEnv()` hands them to a test.
 *
 *   import { labEnv } from '../../test/lab.ts';
 *   const { S3_ENDPOINT, S3_ACCESS_KEY } = labEnv();
 */
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** S3_ENDPOINT, AZURITE_BLOB_URL, GCS_ENDPOINT, KAFKA_BOOTSTRAP, DATABASE_URL, ... */
    lab: Record<string, string>;
  }
}

/**
 * The lab's settings (the same names as lab.env and `movingdata lab env`). Without
 * `{ kafka: true }` they leave KAFKA_BOOTSTRAP out, so an app built on them runs the embedded
 * event bus (on the lab's PostgreSQL): tests of storage and replication then do not all join
 * one broker's consumer groups. Tests of the Kafka path ask for it, and name their own topics.
 */
export function labEnv(options: { readonly kafka?: boolean } = {}): Readonly<Record<string, string>> {
  const env = inject('lab');
  if (options.kafka === true) return env;
  const { KAFKA_BOOTSTRAP: _kafka, ...rest } = env;
  return rest;
}
