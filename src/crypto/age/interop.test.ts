/**
 * Interoperability with the reference `age` tool (Debian package `age`: `age`, `age-keygen`),
 * both ways: what we encrypt, `age -d` decrypts; what `age -r` / `age -R` / `age -a` encrypt, we
 * decrypt; key files cross between `age-keygen` and us. The binaries are required: without them
 * these tests fail, saying what to install.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHUNK_SIZE,
  createArmorDecodeStream,
  createArmorEncodeStream,
  createDecryptStream,
  createPayloadEncryptor,
  encodeHeader,
  formatIdentityFile,
  generateIdentity,
  newFileKey,
  parseHeader,
  parseIdentityFile,
  parseRecipient,
  rewrapHeader,
} from './index.ts';
import { decrypt, encrypt, patternBytes, through } from './test-support.ts';

const SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * 1024 * 1024 + 3];

function runTool(command: string, args: readonly string[], input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.on('error', () => {}); // age may exit before reading all input on failure
    child.stdin.end(input);
  });
}

async function age(args: readonly string[], input: Buffer): Promise<Buffer> {
  const { code, stdout, stderr } = await runTool('age', args, input);
  if (code !== 0) throw new Error(`age ${args.join(' ')} exited with ${code}: ${stderr.trim()}`);
  return stdout;
}

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('interoperability with the age binary', () => {
  let dir = '';
  const ours = generateIdentity();
  let ourKeyFile = '';

  beforeAll(async () => {
    for (const tool of ['age', 'age-keygen']) {
      try {
        execFileSync(tool, ['--version'], { stdio: 'pipe' });
      } catch {
        throw new Error(`'${tool}' is not installed: these interoperability proofs need Debian's 'age' package (apt-get install age)`);
      }
    }
    dir = await mkdtemp(join(tmpdir(), 'movingdata-age-'));
    ourKeyFile = join(dir, 'ours.txt');
    await writeFile(ourKeyFile, formatIdentityFile(ours), { mode: 0o600 });
  });

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('age -d decrypts what we encrypt (0 B, 1 B, 64 KiB, 64 KiB + 1, 5 MiB)', async () => {
    for (const size of SIZES) {
      const plaintext = patternBytes(size, size + 3);
      const file = await encrypt(plaintext, [ours.recipient]);
      expect(sha(await age(['-d', '-i', ourKeyFile], file)), `size ${size}`).toBe(sha(plaintext));
    }
  });

  it('we decrypt what age -r encrypts (0 B, 1 B, 64 KiB, 64 KiB + 1, 5 MiB)', async () => {
    for (const size of SIZES) {
      const plaintext = patternBytes(size, size + 5);
      const file = await age(['-r', ours.recipient.toString()], plaintext);
      expect(sha(await decrypt(file, [ours])), `size ${size}`).toBe(sha(plaintext));
    }
  });

  it('we decrypt what age -R encrypts to several recipients, with each identity', async () => {
    const others = [generateIdentity(), generateIdentity()];
    const recipientsFile = join(dir, 'recipients.txt');
    await writeFile(recipientsFile, `# team\n${[ours, ...others].map((id) => id.recipient.toString()).join('\n')}\n`);
    const plaintext = patternBytes(3 * CHUNK_SIZE + 11, 8);
    const file = await age(['-R', recipientsFile], plaintext);
    expect(parseHeader(file).header.stanzas).toHaveLength(3);
    for (const identity of [ours, ...others]) expect(await decrypt(file, [identity])).toEqual(plaintext);
    await expect(decrypt(file, [generateIdentity()])).rejects.toThrow(/no identity matched/);
  });

  it('age decrypts our multi-recipient files with each key', async () => {
    const other = generateIdentity();
    const otherKeyFile = join(dir, 'other.txt');
    await writeFile(otherKeyFile, formatIdentityFile(other), { mode: 0o600 });
    const plaintext = patternBytes(100_000, 9);
    const file = await encrypt(plaintext, [ours.recipient, other.recipient]);
    expect(await age(['-d', '-i', ourKeyFile], file)).toEqual(plaintext);
    expect(await age(['-d', '-i', otherKeyFile], file)).toEqual(plaintext);
  });

  it('keys cross between age-keygen and us', async () => {
    const keygenFile = join(dir, 'keygen.txt');
    execFileSync('age-keygen', ['-o', keygenFile], { stdio: 'pipe' });
    const [keygenIdentity] = parseIdentityFile(execFileSync('cat', [keygenFile], { encoding: 'utf8' }));
    const keygenRecipient = execFileSync('age-keygen', ['-y', keygenFile], { encoding: 'utf8' }).trim();
    expect(keygenIdentity!.recipient.toString()).toBe(keygenRecipient);
    // age-keygen reads our key file and derives our recipient.
    expect(execFileSync('age-keygen', ['-y', ourKeyFile], { encoding: 'utf8' }).trim()).toBe(ours.recipient.toString());
    // Encrypt to age-keygen's recipient here, decrypt with its key file there, and back.
    const plaintext = patternBytes(70_000, 10);
    expect(await age(['-d', '-i', keygenFile], await encrypt(plaintext, [parseRecipient(keygenRecipient)]))).toEqual(plaintext);
    expect(await decrypt(await age(['-r', keygenRecipient], plaintext), [keygenIdentity!])).toEqual(plaintext);
  });

  it('ASCII armor works both ways', async () => {
    const plaintext = patternBytes(200_000, 11);
    const armored = await age(['-a', '-r', ours.recipient.toString()], plaintext);
    expect(armored.toString('latin1')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    expect(await through(armored, [createArmorDecodeStream(), createDecryptStream([ours])], 1000)).toEqual(plaintext);
    const ourArmored = await through(await encrypt(plaintext, [ours.recipient]), [createArmorEncodeStream()]);
    expect(await age(['-d', '-i', ourKeyFile], ourArmored)).toEqual(plaintext);
  });

  it('age decrypts fan-out files (one payload, per-location headers) and re-wrapped files', async () => {
    const locationB = generateIdentity();
    const keyFileB = join(dir, 'b.txt');
    await writeFile(keyFileB, formatIdentityFile(locationB), { mode: 0o600 });
    const plaintext = patternBytes(2 * CHUNK_SIZE + 5, 12);
    const fileKey = newFileKey();
    const payload = await through(plaintext, [createPayloadEncryptor(fileKey).transform]);
    const fileA = Buffer.concat([encodeHeader(fileKey, [ours.recipient]), payload]);
    const fileB = Buffer.concat([encodeHeader(fileKey, [locationB.recipient]), payload]);
    expect(await age(['-d', '-i', ourKeyFile], fileA)).toEqual(plaintext);
    expect(await age(['-d', '-i', keyFileB], fileB)).toEqual(plaintext);
    // Move A → B by re-wrapping the header only.
    const { headerLength } = parseHeader(fileA);
    const moved = Buffer.concat([rewrapHeader(fileA.subarray(0, headerLength), [ours], [locationB.recipient]), fileA.subarray(headerLength)]);
    expect(await age(['-d', '-i', keyFileB], moved)).toEqual(plaintext);
    const refused = await runTool('age', ['-d', '-i', ourKeyFile], moved);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout.length).toBe(0);
  });
});
