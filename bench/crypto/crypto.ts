/**
 * Encryption throughput: our age streams (src/crypto/age) encrypting and decrypting in-process,
 * beside OpenSSL's own ChaCha20-Poly1305 (`openssl speed -evp chacha20-poly1305`, one process, one
 * core, 64 KiB blocks: the age chunk size) measured in the same run.
 *
 * Ours: plaintext in 64 KiB pieces (as a file or socket delivers them) through
 * createEncryptStream into a sink that drops the bytes; ciphertext in 64 KiB pieces through
 * createDecryptStream likewise. A third column is the floor node:crypto itself sets: a bare loop
 * of createCipheriv/update/final per 64 KiB chunk with no streams, so the table shows how much of
 * the gap to OpenSSL is the stream code and how much is node:crypto's per-call cost.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CHUNK_SIZE, createDecryptStream, createEncryptStream, generateIdentity } from '../../src/crypto/age/index.ts';
import { mibPerSecond } from '../lib/process.ts';

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
/** Size of the encrypted file decrypted repeatedly (held in memory). */
const DECRYPT_FILE = 64 * MiB;

export interface CryptoRow {
  readonly op: 'encrypt' | 'decrypt';
  readonly bytes: number;
  readonly oursMiBs: number;
  /** CPU time of this process over wall time while ours ran (1.0 = one core busy). */
  readonly oursCpuPerWall: number;
  readonly nodeCryptoMiBs: number;
  /**
   * The ceiling of any design that calls node:crypto per piece: one cipher fed 64 KiB updates,
   * no per-chunk setup, no tags (not a valid age payload; only what one `update` costs).
   */
  readonly nodeUpdateOnlyMiBs: number;
  readonly opensslMiBs: number;
  /** `openssl speed -aead`: init, AAD, update, final and tag per 64 KiB block, as age does per chunk. */
  readonly opensslAeadMiBs: number;
  /** ours / OpenSSL. */
  readonly ratio: number;
}

export interface CryptoBenchOptions {
  /** Plaintext bytes per measurement (default 1 GiB). */
  readonly bytes?: number;
  /** `openssl speed -seconds` (default 3). */
  readonly opensslSeconds?: number;
  /** Runs of ours and of the node:crypto floor; the median is reported (default 3). */
  readonly rounds?: number;
}

export async function runCryptoBench(log: (line: string) => void, options: CryptoBenchOptions = {}): Promise<CryptoRow[]> {
  const bytes = options.bytes ?? 1024 * MiB;
  const seconds = options.opensslSeconds ?? 3;
  const rounds = options.rounds ?? 3;
  const identity = generateIdentity();
  const pool = randomBytes(4 * MiB);
  const file = await collect(source(pool, Math.min(DECRYPT_FILE, bytes)), createEncryptStream([identity.recipient]));
  const repeats = Math.max(1, Math.round(bytes / DECRYPT_FILE));
  const decryptedBytes = repeats * Math.min(DECRYPT_FILE, bytes);

  const encrypts: Measurement[] = [];
  const decrypts: Measurement[] = [];
  const floors: ReturnType<typeof nodeCryptoFloor>[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    log(`crypto: round ${round}/${rounds}: encrypting ${bytes / MiB} MiB through createEncryptStream`);
    encrypts.push(await measure(() => pipeline(source(pool, bytes), createEncryptStream([identity.recipient]), sink())));
    log(`crypto: round ${round}/${rounds}: decrypting ${decryptedBytes / MiB} MiB through createDecryptStream (a ${DECRYPT_FILE / MiB} MiB file, ${repeats}×)`);
    decrypts.push(
      await measure(async () => {
        for (let repeat = 0; repeat < repeats; repeat += 1) await pipeline(pieces(file), createDecryptStream([identity]), sink());
      }),
    );
    log(`crypto: round ${round}/${rounds}: node:crypto floor (bare createCipheriv loop)`);
    floors.push(nodeCryptoFloor(pool, Math.min(bytes, 512 * MiB)));
  }
  const encrypt = median(encrypts, (m) => m.seconds);
  const decrypt = median(decrypts, (m) => m.seconds);
  const floor = {
    encrypt: median(floors, (f) => f.encrypt).encrypt,
    decrypt: median(floors, (f) => f.decrypt).decrypt,
    updateOnly: median(floors, (f) => f.updateOnly).updateOnly,
  };

  log(`crypto: openssl speed -evp chacha20-poly1305 -seconds ${seconds} -bytes ${PIECE} (encrypt, then -decrypt)`);
  const opensslEncrypt = opensslSpeed(seconds, false);
  const opensslDecrypt = opensslSpeed(seconds, true);
  log(`crypto: openssl speed -aead (a whole AEAD message per ${PIECE}-byte block)`);
  const opensslAeadEncrypt = opensslSpeed(seconds, false, true);
  const opensslAeadDecrypt = opensslSpeed(seconds, true, true);

  const row = (op: CryptoRow['op'], processed: number, run: Measurement, nodeCrypto: number, openssl: number, opensslAead: number): CryptoRow => {
    const ours = mibPerSecond(processed, run.seconds);
    return {
      op,
      bytes: processed,
      oursMiBs: ours,
      oursCpuPerWall: run.cpuSeconds / run.seconds,
      nodeCryptoMiBs: nodeCrypto,
      nodeUpdateOnlyMiBs: floor.updateOnly,
      opensslMiBs: openssl,
      opensslAeadMiBs: opensslAead,
      ratio: ours / openssl,
    };
  };
  return [
    row('encrypt', bytes, encrypt, floor.encrypt, opensslEncrypt, opensslAeadEncrypt),
    row('decrypt', decryptedBytes, decrypt, floor.decrypt, opensslDecrypt, opensslAeadDecrypt),
  ];
}

function median<T>(values: readonly T[], by: (value: T) => number): T {
  const sorted = [...values].sort((a, b) => by(a) - by(b));
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Measurement {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

async function measure(work: () => Promise<void>): Promise<Measurement> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** `bytes` of plaintext in 64 KiB pieces, viewed from a random pool (no allocation per piece). */
function source(pool: Buffer, bytes: number): Readable {
  let sent = 0;
  let offset = 0;
  return new Readable({
    highWaterMark: PIECE,
    read() {
      if (sent >= bytes) return void this.push(null);
      const size = Math.min(PIECE, bytes - sent);
      if (offset + size > pool.length) offset = 0;
      this.push(pool.subarray(offset, offset + size));
      offset += size;
      sent += size;
    },
  });
}

function pieces(file: Buffer): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: PIECE,
    read() {
      if (offset >= file.length) return void this.push(null);
      this.push(file.subarray(offset, offset + PIECE));
      offset += PIECE;
    },
  });
}

function sink(): Writable {
  return new Writable({
    highWaterMark: PIECE,
    write(_chunk, _encoding, callback) {
      callback();
    },
    writev(_chunks, callback) {
      callback();
    },
  });
}

async function collect(input: Readable, transform: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(input, transform, async (stream: AsyncIterable<Buffer>) => {
    for await (const chunk of stream) out.push(chunk);
  });
  return Buffer.concat(out);
}

/**
 * MiB/s of a bare per-chunk ChaCha20-Poly1305 loop through node:crypto, no streams, over the same
 * kind of data as ours (plaintext from the 4 MiB pool; ciphertext from a 64 MiB set of chunks, so
 * that neither side decrypts cache-hot data).
 */
function nodeCryptoFloor(pool: Buffer, bytes: number): { encrypt: number; decrypt: number; updateOnly: number } {
  const key = createSecretKey(randomBytes(32));
  const nonce = Buffer.alloc(12);
  const chunksPerPool = Math.floor(pool.length / CHUNK_SIZE);
  const chunks = Math.max(1, Math.floor(bytes / CHUNK_SIZE));
  const keep = Math.min(chunks, DECRYPT_FILE / CHUNK_SIZE);
  const sealed: Buffer[] = [];
  const tags: Buffer[] = [];
  let started = performance.now();
  for (let i = 0; i < chunks; i += 1) {
    nonce.writeUInt32BE(i % keep, 7);
    const offset = (i % chunksPerPool) * CHUNK_SIZE;
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    const out = cipher.update(pool.subarray(offset, offset + CHUNK_SIZE));
    cipher.final();
    const tag = cipher.getAuthTag();
    if (i < keep) {
      sealed.push(out);
      tags.push(tag);
    }
  }
  const encrypt = mibPerSecond(chunks * CHUNK_SIZE, (performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < chunks; i += 1) {
    nonce.writeUInt32BE(i % keep, 7);
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    decipher.setAuthTag(tags[i % keep]!);
    decipher.update(sealed[i % keep]!);
    decipher.final();
  }
  const decrypt = mibPerSecond(chunks * CHUNK_SIZE, (performance.now() - started) / 1000);
  const one = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  started = performance.now();
  for (let i = 0; i < chunks; i += 1) {
    const offset = (i % chunksPerPool) * CHUNK_SIZE;
    one.update(pool.subarray(offset, offset + CHUNK_SIZE));
  }
  const updateOnly = mibPerSecond(chunks * CHUNK_SIZE, (performance.now() - started) / 1000);
  return { encrypt, decrypt, updateOnly };
}

/** OpenSSL's single-core ChaCha20-Poly1305 throughput on 64 KiB blocks, MiB/s. */
function opensslSpeed(seconds: number, decrypt: boolean, aead = false): number {
  const args = ['speed', ...(decrypt ? ['-decrypt'] : []), ...(aead ? ['-aead'] : []), '-evp', 'chacha20-poly1305', '-seconds', String(seconds), '-bytes', String(PIECE)];
  const output = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Last line: "ChaCha20-Poly1305  4428982.91k" (thousands of bytes per second).
  const match = /chacha20-poly1305\s+([0-9.]+)k\s*$/im.exec(output.trim());
  if (match === null) throw new Error(`could not read openssl speed output:\n${output}`);
  return (Number(match[1]) * 1000) / MiB;
}

export function opensslVersion(): string {
  return execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
}
