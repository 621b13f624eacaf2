/**
 * Azurite (Blob only), the lab's Azure Blob Storage, run from the project's own dependency as
 * a separate Node process. The account `devstoreaccount1` gets the lab's generated key through
 * `AZURITE_ACCOUNTS` (Azurite replaces its well-known key with it), and readiness is a request
 * signed with that key, so "ready" also proves the key is the one clients will use.
 */
import { createHmac } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.ts';
import { httpRequest } from '../probes.ts';
import { DetachedProcess, LAB_HOST, type LabContext, type LabServer, type Placement } from '../server.ts';

export const AZURITE_PORT = 10000;
export const AZURE_ACCOUNT = 'devstoreaccount1';
const AZURE_API_VERSION = '2021-12-02';

const AZURITE_BLOB_BIN = join(PROJECT_ROOT, 'node_modules', '.bin', 'azurite-blob');

export function azuriteServer(ctx: LabContext, at: Placement): LabServer {
  const dataDir = join(at.dir, 'data');
  const logPath = join(at.dir, 'server.log');
  const proc = new DetachedProcess({ dir: at.dir, logPath, pidPath: join(at.dir, 'server.pid'), marker: dataDir });
  const key = ctx.credentials.azurite.accountKey;
  const blobUrl = `http://${LAB_HOST}:${at.port}/${AZURE_ACCOUNT}`;

  return {
    name: 'azurite',
    port: at.port,
    ports: [at.port],
    dir: at.dir,
    logPath,
    startTimeoutMs: 30_000,
    // Azurite is an npm dependency: `npm ci` installs it, the lab has nothing to fetch.
    installed: async () => realpath(AZURITE_BLOB_BIN).then(
      () => true,
      () => false,
    ),
    async install() {
      await realpath(AZURITE_BLOB_BIN).catch(() => {
        throw new Error(`${AZURITE_BLOB_BIN} is missing: run 'npm ci' in ${PROJECT_ROOT}`);
      });
    },
    async start() {
      await mkdir(dataDir, { recursive: true });
      // The .bin entry is a `#!/usr/bin/env node` script; run it on this very Node (24).
      const script = await realpath(AZURITE_BLOB_BIN);
      await proc.start(
        process.execPath,
        [
          script,
          '--blobHost', LAB_HOST,
          '--blobPort', String(at.port),
          '--location', dataDir,
          '--skipApiVersionCheck',
          '--loose',
          '--disableTelemetry',
          '--silent',
        ],
        { AZURITE_ACCOUNTS: `${AZURE_ACCOUNT}:${key}` },
      );
    },
    ready: async () => {
      try {
        return (await getServiceProperties(blobUrl, AZURE_ACCOUNT, key)).status === 200;
      } catch {
        return false;
      }
    },
    stop: () => proc.stop(),
    pid: () => proc.pid(),
    env: () => ({ AZURITE_BLOB_URL: blobUrl, AZURE_STORAGE_ACCOUNT: AZURE_ACCOUNT, AZURE_STORAGE_KEY: key }),
  };
}

/**
 * `Get Blob Service Properties`, signed with Shared Key
 * (https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key).
 */
export function getServiceProperties(blobUrl: string, account: string, key: string, timeoutMs = 2_000) {
  const url = new URL(`${blobUrl}/?comp=properties&restype=service`);
  const headers: Record<string, string> = {
    'x-ms-date': new Date().toUTCString(),
    'x-ms-version': AZURE_API_VERSION,
  };
  const canonicalHeaders = Object.keys(headers)
    .sort()
    .map((name) => `${name}:${headers[name]}\n`)
    .join('');
  // Path-style (emulator) URLs keep the account in the path, so it appears twice here.
  const canonicalResource = `/${account}${url.pathname}\ncomp:properties\nrestype:service`;
  // VERB, then 11 standard headers (all empty for this GET), then the canonical parts.
  const stringToSign = ['GET', '', '', '', '', '', '', '', '', '', '', ''].join('\n') + '\n' + canonicalHeaders + canonicalResource;
  const signature = createHmac('sha256', Buffer.from(key, 'base64')).update(stringToSign, 'utf8').digest('base64');
  return httpRequest(url.href, { headers: { ...headers, authorization: `SharedKey ${account}:${signature}` }, timeoutMs });
}
