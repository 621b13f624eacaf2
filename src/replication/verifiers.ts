/**
 * Streams that check bytes against a recorded SHA-256 as they pass, and fail at the end on a
 * mismatch — so an upload they feed aborts instead of committing, and a download they feed
 * breaks instead of completing.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createPayloadDecryptor } from '../crypto/age/index.ts';
import { MovingDataError } from '../errors.ts';

/**
 * Passes a payload through untouched while decrypting it on the side; at the end, fails the
 * stream (so the upload it feeds aborts instead of committing) unless the plaintext's SHA-256 is
 * the one recorded.
 */
export class PayloadVerifier extends Transform {
  readonly #decrypt: Transform;
  readonly #done: Promise<string>;
  readonly #expected: string;
  readonly #what: string;

  constructor(fileKey: Buffer, expected: string, what: string) {
    super();
    this.#expected = expected;
    this.#what = what;
    this.#decrypt = createPayloadDecryptor(fileKey);
    const hash = createHash('sha256');
    this.#done = new Promise((resolve, reject) => {
      this.#decrypt.on('data', (chunk: Buffer) => hash.update(chunk));
      this.#decrypt.once('end', () => resolve(hash.digest('hex')));
      this.#decrypt.once('error', reject);
    });
    this.#done.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    // The side decryptor runs at the pace of the copy: it is CPU-bound and never slower.
    this.#decrypt.write(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#decrypt.end();
    this.#done.then(
      (actual) =>
        actual === this.#expected
          ? callback()
          : callback(new MovingDataError('checksum_mismatch', `${this.#what}: the copied payload decrypts to SHA-256 ${actual}, not the recorded ${this.#expected}`, { retryable: false })),
      (err: unknown) => callback(err as Error),
    );
  }
}

/** Checks a whole plaintext stream against a SHA-256 and fails it at the end on a mismatch. */
export class PlaintextVerifier extends Transform {
  readonly #hash = createHash('sha256');
  readonly #expected: string;
  readonly #what: string;

  constructor(expected: string, what: string) {
    super();
    this.#expected = expected;
    this.#what = what;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.#hash.digest('hex');
    callback(actual === this.#expected ? undefined : new MovingDataError('checksum_mismatch', `${this.#what}: plaintext SHA-256 ${actual}, recorded ${this.#expected}`, { retryable: false }));
  }
}

