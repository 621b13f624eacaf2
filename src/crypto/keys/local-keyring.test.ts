import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.ts';
import { formatIdentityFile, generateIdentity } from '../age/index.ts';
import { formatFernetKey, generateFernetKey } from '../fernet/fernet.ts';
import { LocalKeyring, type KeySource } from './local-keyring.ts';

function fresh(): string {
  return mkdtempSync(join(tmpdir(), 'movingdata-keyring-'));
}

function source(value: string | undefined, location = 'aws', variable = 'S3_ENCRYPTION_KEY'): KeySource {
  return { location, variable, value };
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('local keyring', () => {
  it('generates one demo key per location in demo mode, announces it, and keeps it across restarts', async () => {
    const dir = fresh();
    const announced: string[] = [];
    const first = await LocalKeyring.open({ dir, demo: true, sources: [source(undefined), source(undefined, 'azure', 'AZURE_ENCRYPTION_KEY')], announce: (m) => announced.push(m) });
    const aws = first.keysFor('aws');
    expect(aws.active.format).toBe('age');
    expect(announced).toHaveLength(2);
    expect(announced[0]).toContain('DEMO KEY');
    expect(announced[0]).toContain('S3_ENCRYPTION_KEY');
    expect(first.keysFor('azure').active.id).not.toBe(aws.active.id);
    expect(statSync(join(dir, 'aws.json')).mode & 0o777).toBe(0o600);

    const again = await LocalKeyring.open({ dir, demo: true, sources: [source(undefined)], announce: (m) => announced.push(m) });
    expect(again.keysFor('aws').active.id).toBe(aws.active.id);
    expect(announced).toHaveLength(2);
  });

  it('refuses to start without a key outside demo mode, naming the variable', async () => {
    const err = await configError(LocalKeyring.open({ dir: fresh(), demo: false, sources: [source(undefined, 'gcp', 'GCS_ENCRYPTION_KEY')] }));
    expect(err.variable).toBe('GCS_ENCRYPTION_KEY');
    expect(err.message).toContain('demo');
  });

  it('takes an age identity from configuration without writing the secret to disk', async () => {
    const dir = fresh();
    const identity = generateIdentity();
    const keyring = await LocalKeyring.open({ dir, demo: false, sources: [source(`  ${identity.encode()}\n`)] });
    const active = keyring.keysFor('aws').active;
    expect(active.format === 'age' && active.identity?.encode()).toBe(identity.encode());
    expect(readFileSync(join(dir, 'aws.json'), 'utf8')).not.toContain(identity.encode());
  });

  it('takes a recipient (write-only), a Fernet key, and key files', async () => {
    const dir = fresh();
    const identity = generateIdentity();
    const fernet = formatFernetKey(generateFernetKey());
    writeFileSync(join(dir, 'age-keygen.txt'), formatIdentityFile(identity));
    writeFileSync(join(dir, 'fernet.key'), `${fernet}\n`);
    const keyring = await LocalKeyring.open({
      dir,
      demo: false,
      sources: [
        source(identity.recipient.toString(), 'aws'),
        source(fernet, 'azure', 'AZURE_ENCRYPTION_KEY'),
        source(join(dir, 'age-keygen.txt'), 'gcp', 'GCS_ENCRYPTION_KEY'),
        source(join(dir, 'fernet.key'), 'extra', 'EXTRA_ENCRYPTION_KEY'),
      ],
    });
    const aws = keyring.keysFor('aws').active;
    expect(aws.format === 'age' && aws.identity).toBeUndefined();
    expect(keyring.keysFor('azure').active.format).toBe('fernet');
    expect(keyring.keysFor('gcp').active.id).toBe(aws.id);
    expect(keyring.keysFor('extra').active.id).toBe(keyring.keysFor('azure').active.id);
  });

  it('names the variable for a malformed key and never echoes it', async () => {
    const secretish = 'AGE-SECRET-KEY-1THISISNOTAVALIDKEYBUTLOOKSSECRET';
    const err = await configError(LocalKeyring.open({ dir: fresh(), demo: true, sources: [source(secretish)] }));
    expect(err.variable).toBe('S3_ENCRYPTION_KEY');
    expect(err.message).not.toContain('THISISNOTAVALID');
    const missing = await configError(LocalKeyring.open({ dir: fresh(), demo: true, sources: [source('/no/such/key/file')] }));
    expect(missing.message).toContain('does not exist');
  });

  it('rotates to a new active key, keeps the old one for reading, and remembers it across restarts', async () => {
    const dir = fresh();
    const configured = generateIdentity();
    const keyring = await LocalKeyring.open({ dir, demo: false, sources: [source(configured.encode())] });
    const before = keyring.keysFor('aws').active.id;
    const rotated = await keyring.rotate('aws');
    expect(rotated.active.id).not.toBe(before);
    expect(rotated.all.map((k) => k.id)).toEqual([rotated.active.id, before]);

    // Same configuration after a restart: the rotation still wins.
    const restarted = await LocalKeyring.open({ dir, demo: false, sources: [source(configured.encode())] });
    expect(restarted.keysFor('aws').active.id).toBe(rotated.active.id);
    expect(restarted.keysFor('aws').all.map((k) => k.id)).toContain(before);

    // A newly configured key becomes active; the rotated one stays readable.
    const replacement = generateIdentity();
    const reconfigured = await LocalKeyring.open({ dir, demo: false, sources: [source(replacement.encode())] });
    const keys = reconfigured.keysFor('aws');
    expect(keys.active.format === 'age' && keys.active.identity?.encode()).toBe(replacement.encode());
    expect(keys.all.map((k) => k.id)).toContain(rotated.active.id);
  });

  it('rotates a Fernet location to a new Fernet key', async () => {
    const keyring = await LocalKeyring.open({ dir: fresh(), demo: false, sources: [source(formatFernetKey(generateFernetKey()))] });
    const rotated = await keyring.rotate('aws');
    expect(rotated.active.format).toBe('fernet');
    expect(rotated.all).toHaveLength(2);
  });
});
