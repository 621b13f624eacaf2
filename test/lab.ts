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

/** The lab's settings (the same names as lab.env and `movingdata lab env`). */
export function labEnv(): Readonly<Record<string, string>> {
  return inject('lab');
}
