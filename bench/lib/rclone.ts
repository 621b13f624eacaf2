/**
 * rclone remotes for the lab's servers, configured through environment variables only (no
 * config file is written). rclone 1.60 (Debian) treats the azureblob `endpoint` as a domain
 * suffix, so Azurite is reached through an account SAS URL generated here.
 */
import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, SASProtocol, StorageSharedKeyCredential, generateAccountSASQueryParameters } from '@azure/storage-blob';

export type Remote = { readonly name: string; readonly env: Record<string, string> };

export function rcloneRemotes(lab: Readonly<Record<string, string>>): Record<'s3' | 'azure' | 'gcs', Remote> {
  const need = (key: string): string => {
    const value = lab[key];
    if (value === undefined) throw new Error(`lab setting ${key} is missing`);
    return value;
  };
  const credential = new StorageSharedKeyCredential(need('AZURE_STORAGE_ACCOUNT'), need('AZURE_STORAGE_KEY'));
  const sas = generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 6 * 3600_000),
      permissions: AccountSASPermissions.parse('rwdlacup'),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
      protocol: SASProtocol.HttpsAndHttp,
    },
    credential,
  ).toString();
  return {
    s3: {
      name: 'benchs3',
      env: {
        RCLONE_CONFIG_BENCHS3_TYPE: 's3',
        RCLONE_CONFIG_BENCHS3_PROVIDER: 'Minio',
        RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID: need('S3_ACCESS_KEY'),
        RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY: need('S3_SECRET_KEY'),
        RCLONE_CONFIG_BENCHS3_ENDPOINT: need('S3_ENDPOINT'),
        RCLONE_CONFIG_BENCHS3_REGION: need('S3_REGION'),
      },
    },
    azure: {
      name: 'benchaz',
      env: { RCLONE_CONFIG_BENCHAZ_TYPE: 'azureblob', RCLONE_CONFIG_BENCHAZ_SAS_URL: `${need('AZURITE_BLOB_URL')}?${sas}` },
    },
    gcs: {
      name: 'benchgcs',
      env: {
        RCLONE_CONFIG_BENCHGCS_TYPE: 'google cloud storage',
        RCLONE_CONFIG_BENCHGCS_ENDPOINT: `${need('GCS_ENDPOINT')}/storage/v1/`,
        RCLONE_CONFIG_BENCHGCS_ANONYMOUS: 'true',
        RCLONE_CONFIG_BENCHGCS_PROJECT_NUMBER: need('GCS_PROJECT_ID'),
      },
    },
  };
}

/** The environment rclone runs in: ours, minus AWS_CA_BUNDLE (rclone's S3 client cannot load one into its transport). */
export function rcloneEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['AWS_CA_BUNDLE'];
  return env;
}

/** rclone's own transfer time: the `elapsedTime` of its final JSON stats line. */
export function rcloneElapsed(output: string): number {
  let elapsed = Number.NaN;
  for (const line of output.split('\n')) {
    const match = /"elapsedTime":([0-9.]+)/.exec(line);
    if (match) elapsed = Number(match[1]);
  }
  return elapsed;
}
