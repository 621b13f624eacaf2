/**
 * Test bodies of any size without holding them in memory: a generated stream whose digest is
 * known once it has been read, and a sink that digests whatever it is given.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { crc32c } from '../crc32c.ts';
import type { ChecksumKind, Checksums } from '../port.ts';

const CHUNK = 1024 * 1024;

export interface GeneratedBody {
  readonly stream: Readable;
  /** Resolves once the stream has been read to the end. */
  readonly digest: Promise<Digest>;
}

export interface Digest {
  readonly size: number;
  readonly sha256: string;
  readonly checksums: Required<Checksums>;
}

/** A stream of `size` pseudo-random bytes; every 1 MiB chunk differs, so reordered parts show. */
export function generatedBody(size: number): GeneratedBody {
  const base = randomBytes(CHUNK);
  const digester = new MultiDigest();
  let sent = 0;
  let index = 0;
  let resolve!: (d: Digest) => void;
  const digest = new Promise<Digest>((r) => (resolve = r));
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (sent >= size) {
        resolve(digester.finish());
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, size - sent);
      const chunk = Buffer.allocUnsafe(length);
      base.copy(chunk, 0, 0, length);
      for (let offset = 0; offset + 4 <= length; offset += 4096) chunk.writeUInt32BE((index * 4099 + offset) >>> 0, offset);
      index += 1;
      sent += length;
      digester.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest };
}

export function bufferBody(data: Buffer | string): { stream: Readable; digest: Digest; bytes: Buffer } {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const digester = new MultiDigest();
  digester.update(bytes);
  return { stream: Readable.from(bytes.length === 0 ? [] : [bytes]), digest: digester.finish(), bytes };
}

/** Read a stream to its end, keeping only digests (and the bytes when `keep` and small). */
export async function digestStream(stream: Readable, options: { keep?: boolean } = {}): Promise<Digest & { bytes?: Buffer }> {
  const digester = new MultiDigest();
  const kept: Buffer[] = [];
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        digester.update(chunk);
        if (options.keep) kept.push(chunk);
        callback();
      },
    }),
  );
  const result = digester.finish();
  return options.keep ? { ...result, bytes: Buffer.concat(kept) } : result;
}

class MultiDigest {
  readonly #sha256 = createHash('sha256');
  readonly #md5 = createHash('md5');
  #crc32c = 0;
  #crc32 = 0;
  #size = 0;

  update(chunk: Buffer): void {
    this.#sha256.update(chunk);
    this.#md5.update(chunk);
    this.#crc32c = crc32c(chunk, this.#crc32c);
    this.#crc32 = crc32(chunk, this.#crc32);
    this.#size += chunk.length;
  }

  finish(): Digest {
    const sha256 = this.#sha256.digest('hex');
    const crc32cHex = (this.#crc32c >>> 0).toString(16).padStart(8, '0');
    const checksums: Record<ChecksumKind, string> = {
      md5: this.#md5.digest('hex'),
      sha256,
      crc32c: crc32cHex,
      crc32: (this.#crc32 >>> 0).toString(16).padStart(8, '0'),
    };
    return { size: this.#size, sha256, checksums };
  }
}
