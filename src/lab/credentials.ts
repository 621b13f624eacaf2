/**
 * Secrets of the lab: generated randomly the first time, kept in `credentials.json` (mode 600)
 * and reused, because the servers' data (MinIO's KMS-encrypted objects, for one) outlives a
 * restart. No well-known keys: a test that passes here passes with real, unguessable secrets.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MovingDataError } from '../errors.ts';

export interface LabCredentials {
  readonly minio: { readonly rootUser: string; readonly rootPassword: string; readonly kmsKey: string };
  readonly azurite: { readonly accountKey: string };
}

function generate(): LabCredentials {
  return {
    minio: {
      rootUser: `lab${randomBytes(6).toString('hex')}`,
      rootPassword: randomBytes(24).toString('base64url'),
      // 32 random bytes, base64: the static key MinIO's built-in KMS serves as `netapp-key`.
      kmsKey: randomBytes(32).toString('base64'),
    },
    azurite: { accountKey: randomBytes(64).toString('base64') },
  };
}

function isValid(value: unknown): value is LabCredentials {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { minio?: Record<string, unknown>; azurite?: Record<string, unknown> };
  return (
    typeof v.minio?.['rootUser'] === 'string' &&
    typeof v.minio['rootPassword'] === 'string' &&
    typeof v.minio['kmsKey'] === 'string' &&
    Buffer.from(v.minio['kmsKey'], 'base64').length === 32 &&
    typeof v.azurite?.['accountKey'] === 'string'
  );
}

/** Reads the lab's credentials, creating them (mode 600) on first use. */
export async function loadCredentials(file: string): Promise<LabCredentials> {
  const existing = await readCredentials(file);
  if (existing) return existing;
  const credentials = generate();
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  try {
    // link() publishes the complete file atomically and fails if another process won the race.
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readCredentials(file);
    if (winner) return winner;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return credentials;
}

async function readCredentials(file: string): Promise<LabCredentials | undefined> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!isValid(parsed)) {
      // Regenerating silently would lock us out of existing data; let a human decide.
      throw new MovingDataError(
        'config_invalid',
        `lab credentials file ${file} is malformed; delete it together with the lab's run/ directory to start afresh`,
      );
    }
    return parsed;
  }
  return undefined;
}
