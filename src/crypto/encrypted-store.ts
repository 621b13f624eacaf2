/**
 * Client-side encryption as a storage adapter that wraps another one, the way rclone's crypt
 * backend wraps a remote: callers put and get plaintext; the wrapped store only ever sees
 * ciphertext. Because it implements the same port, the storage conformance suite runs over it.
 *
 * Format per location (its active key decides): age v1 (default, streaming, any size, ranged
 * reads decrypt only the chunks they need) or Fernet (the seed's format; whole-object, up to
 * FERNET_MAX_BYTES). Every stored object can be decrypted without MovingData: `age -d -i key`
 * for age, any Fernet implementation for Fernet.
 *
 * Stored objects carry our bookkeeping in user metadata under `movingdata_*` names (hidden from
 * callers): the format, the id of the key that sealed it, the age header length and, when known
 * up front, the plaintext size. Underscores, not dashes: Azure metadata names are C# identifiers.
 *
 * What callers see: sizes are plaintext sizes; provider checksums are of ciphertext, so none are
 * reported, except the SHA-256 of the plaintext that a put computes as the bytes stream through.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { MovingDataError } from '../errors.ts';
import { StorageError, toStorageError } from '../storage/errors.ts';
import type {
  CopyOptions,
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  ProviderKind,
  PutOptions,
  PutResult,
  StoreFeatures,
} from '../storage/port.ts';
import {
  createDecryptStream,
  createPayloadEncryptor,
  createRangeDecryptor,
  encodeHeader,
  generateIdentity,
  newFileKey,
  openFile,
  parseHeader,
  payloadSize,
  plaintextSize,
  rewrapHeader,
  type X25519Identity,
} from './age/index.ts';
import { FERNET_MAX_BYTES, decryptTokenStream, encryptStreamToToken, fernetTokenLength } from './fernet/fernet.ts';
import type { AgeKey, FernetLocationKey, LocationKeys } from './keys/port.ts';

export const META_FORMAT = 'movingdata_format';
export const META_KEY = 'movingdata_key';
export const META_HEADER = 'movingdata_header';
export const META_SIZE = 'movingdata_size';
const INTERNAL_PREFIX = 'movingdata_';

export type SealFormat = 'age-v1' | 'fernet';

/** One recipient's X25519 header is always this long; listings use it to report plaintext sizes. */
export const ONE_RECIPIENT_HEADER_BYTES = encodeHeader(newFileKey(), [generateIdentity().recipient]).length;

/** First bytes fetched to open an age object for a ranged read: header + nonce fit easily. */
const HEAD_FETCH_BYTES = 4096;

export interface KeyUse {
  readonly operation: 'encrypt' | 'decrypt' | 'rewrap';
  readonly location: string;
  readonly objectKey: string;
  readonly keyId: string;
}

export interface EncryptedStoreOptions {
  readonly inner: ObjectStore;
  /** The location's keys, looked up per operation so a rotation applies at once. */
  readonly keys: () => LocationKeys;
  /** Largest Fernet object (default FERNET_MAX_BYTES); Fernet cannot stream. */
  readonly fernetMaxBytes?: number;
  /** Told about every use of a key (the audit trail records them). */
  readonly onKeyUse?: (use: KeyUse) => void;
}

/** A stored age object opened for copying (see EncryptedStore.openSealed). */
export interface SealedObject {
  readonly fileKey: Buffer;
  /** Bytes of the stored header; the payload (nonce first) starts here. */
  readonly headerLength: number;
  /** The key that sealed it (`age:…`). */
  readonly keyId: string;
  readonly storedSize: number;
  readonly plaintextSize: number;
  /** Plaintext view: size, content type, user metadata, tier. */
  readonly info: ObjectInfo;
}

/**
 * What a read expects of the stored object, as recorded when it was written: a read checks it
 * before the first plaintext byte, so an object substituted, truncated or re-written behind our
 * back is an `integrity_mismatch`, never served as the recorded one.
 */
export interface SealExpectation {
  /** Bytes of the stored object. */
  readonly storedSize?: number | null;
  /** SHA-256 (hex) of the age header (it holds the MAC over the wrapped file key), or of the whole Fernet token. */
  readonly sealSha256?: string | null;
}

export type SealedGetOptions = GetOptions & { readonly expect?: SealExpectation };

/** A put's answer, plus the digest of what seals the stored object (see SealExpectation). */
export type SealedPutResult = PutResult & { readonly sealSha256: string };

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function integrityMismatch(location: string, key: string, what: string): MovingDataError {
  return new MovingDataError('integrity_mismatch', `${location}:${key} is not the object recorded: ${what}`, { retryable: false, details: { location, key } });
}

/** Result of re-wrapping one object's file key to the location's active key. */
export type RewrapResult =
  | {
      readonly changed: true;
      readonly from: string;
      readonly to: string;
      /** Where the re-wrapped object was written (the source object is left as it was). */
      readonly key: string;
      readonly storedSize: number;
      readonly sealSha256: string;
      readonly put: PutResult;
    }
  | { readonly changed: false; readonly keyId: string };

/** Passes plaintext through, hashing and counting it, and checks the announced size at the end. */
export class PlaintextMeter extends Transform {
  readonly #hash = createHash('sha256');
  readonly #expected: number | undefined;
  size = 0;
  sha256 = '';

  constructor(expected: number | undefined) {
    super();
    this.#expected = expected;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.#expected !== undefined && this.size > this.#expected) {
      return callback(new MovingDataError('invalid_argument', `body is longer than the announced ${this.#expected} bytes`));
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#expected !== undefined && this.size !== this.#expected) {
      return callback(new MovingDataError('invalid_argument', `body was ${this.size} bytes, ${this.#expected} were announced`));
    }
    this.sha256 = this.#hash.digest('hex');
    callback();
  }
}

function userMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) if (!name.startsWith(INTERNAL_PREFIX)) out[name] = value;
  return out;
}

function internalMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) if (name.startsWith(INTERNAL_PREFIX)) out[name] = value;
  return out;
}

function lowercase(metadata: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const lowered = name.toLowerCase();
    if (lowered.startsWith(INTERNAL_PREFIX)) throw new MovingDataError('invalid_argument', `metadata names starting with '${INTERNAL_PREFIX}' are reserved`);
    out[lowered] = value;
  }
  return out;
}

/** Resolves once `stream` has data ready (or has ended), rejects on its first error. */
function primed(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      stream.off('readable', done);
      stream.off('end', done);
      stream.off('error', fail);
      resolve();
    };
    const fail = (err: Error): void => {
      stream.off('readable', done);
      stream.off('end', done);
      reject(err);
    };
    stream.once('readable', done);
    stream.once('end', done);
    stream.once('error', fail);
  });
}

async function collect(stream: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      stream.destroy();
      throw new MovingDataError('too_large', `more than ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

export class EncryptedStore implements ObjectStore {
  readonly location: string;
  readonly provider: ProviderKind;
  readonly container: string;
  readonly features: StoreFeatures;
  readonly #inner: ObjectStore;
  readonly #keys: () => LocationKeys;
  readonly #fernetMax: number;
  readonly #onKeyUse: (use: KeyUse) => void;

  constructor(options: EncryptedStoreOptions) {
    const inner = options.inner;
    this.#inner = inner;
    this.#keys = options.keys;
    this.#fernetMax = options.fernetMaxBytes ?? FERNET_MAX_BYTES;
    this.#onKeyUse = options.onKeyUse ?? (() => undefined);
    this.location = inner.location;
    this.provider = inner.provider;
    this.container = inner.container;
    this.features = Object.freeze({
      copy: inner.features.copy,
      tiers: inner.features.tiers,
      checksums: [],
      multipartThreshold: inner.features.multipartThreshold,
      ...(inner.features.listOrder === undefined ? {} : { listOrder: inner.features.listOrder }),
    });
    if (inner.copy) this.copy = (source, destination, copyOptions) => this.#run('copy', source, () => this.#copy(source, destination, copyOptions));
    if (inner.setTier) this.setTier = (key, tier, signal) => inner.setTier!(key, tier, signal);
    if (inner.keyProblem) this.keyProblem = (key) => inner.keyProblem!(key);
  }

  copy?: (sourceKey: string, destinationKey: string, options?: CopyOptions) => Promise<ObjectInfo>;
  setTier?: (key: string, tier: string, signal?: AbortSignal) => Promise<void>;
  keyProblem?: (key: string) => string | undefined;

  /** The key new objects are sealed with here (`age:…` / `fernet:…`). */
  get activeKeyId(): string {
    return this.#keys().active.id;
  }

  /** The format new objects are sealed in here (the active key's). */
  get format(): 'age' | 'fernet' {
    return this.#keys().active.format;
  }

  /** The wrapped store (ciphertext), for drift scans and raw copies. */
  get inner(): ObjectStore {
    return this.#inner;
  }

  ensureContainer(): Promise<void> {
    return this.#inner.ensureContainer();
  }

  ping(signal?: AbortSignal): Promise<void> {
    return this.#inner.ping(signal);
  }

  delete(key: string, signal?: AbortSignal): Promise<void> {
    return this.#inner.delete(key, signal);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  put(key: string, body: Readable, options: PutOptions = {}): Promise<SealedPutResult> {
    return this.#run('put', key, () => this.#put(key, body, options));
  }

  async #put(key: string, body: Readable, options: PutOptions): Promise<SealedPutResult> {
    let metadata: Record<string, string>;
    try {
      metadata = lowercase(options.metadata);
    } catch (err) {
      body.destroy();
      throw err;
    }
    const { active } = this.#keys();
    const meter = new PlaintextMeter(options.size);
    const common = {
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      ...(options.tier === undefined ? {} : { tier: options.tier }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    if (active.format === 'fernet') {
      const token = Buffer.from(await encryptStreamToToken(active.key, pipeline(body, meter, () => undefined), { maxBytes: this.#fernetMax }), 'ascii');
      const stored = await this.#inner.put(key, Readable.from([token]), {
        ...common,
        size: token.length,
        metadata: { ...metadata, [META_FORMAT]: 'fernet', [META_KEY]: active.id, [META_SIZE]: String(meter.size) },
      });
      this.#onKeyUse({ operation: 'encrypt', location: this.location, objectKey: key, keyId: active.id });
      return { key, size: meter.size, ...(stored.etag === undefined ? {} : { etag: stored.etag }), checksums: { sha256: meter.sha256 }, sealSha256: sha256Hex(token) };
    }
    const fileKey = newFileKey();
    const header = encodeHeader(fileKey, [active.recipient]);
    const { transform } = createPayloadEncryptor(fileKey);
    // Errors anywhere (the caller's body, the size check) destroy `payload`, which fails the put.
    const payload = pipeline(body, meter, transform, () => undefined);
    const sealed = Readable.from(
      (async function* () {
        yield header;
        yield* payload as AsyncIterable<Buffer>;
      })(),
      { objectMode: false },
    );
    const stored = await this.#inner.put(key, sealed, {
      ...common,
      ...(options.size === undefined ? {} : { size: header.length + payloadSize(options.size) }),
      metadata: {
        ...metadata,
        [META_FORMAT]: 'age-v1',
        [META_KEY]: active.id,
        [META_HEADER]: String(header.length),
        ...(options.size === undefined ? {} : { [META_SIZE]: String(options.size) }),
      },
    });
    this.#onKeyUse({ operation: 'encrypt', location: this.location, objectKey: key, keyId: active.id });
    return { key, size: meter.size, ...(stored.etag === undefined ? {} : { etag: stored.etag }), checksums: { sha256: meter.sha256 }, sealSha256: sha256Hex(header) };
  }

  get(key: string, options: SealedGetOptions = {}): Promise<GetResult> {
    return this.#run('get', key, () => (options.range === undefined ? this.#get(key, options) : this.#getRange(key, options)));
  }

  /** The stored object is as long as recorded (checked before a byte of it is read). */
  #checkStoredSize(key: string, info: ObjectInfo, expect: SealExpectation | undefined): void {
    if (expect?.storedSize != null && info.size !== expect.storedSize) {
      throw integrityMismatch(this.location, key, `it is ${info.size} bytes, ${expect.storedSize} were written`);
    }
  }

  /** The seal (age header or Fernet token) is the one recorded. */
  #checkSeal(key: string, seal: Uint8Array, expect: SealExpectation | undefined): void {
    if (expect?.sealSha256 != null && sha256Hex(seal) !== expect.sealSha256) {
      throw integrityMismatch(this.location, key, 'its header is not the one written (another object, or re-written)');
    }
  }

  async #get(key: string, options: SealedGetOptions): Promise<GetResult> {
    const got = await this.#inner.get(key, options.signal === undefined ? {} : { signal: options.signal });
    try {
      this.#checkStoredSize(key, got.info, options.expect);
      const format = got.info.metadata[META_FORMAT] ?? 'age-v1';
      const sealedWith = got.info.metadata[META_KEY];
      if (format === 'fernet') {
        const plaintext = await this.#openFernet(got.body, sealedWith, key, options.expect);
        return { body: Readable.from(plaintext.length === 0 ? [] : [plaintext]), info: this.#info(got.info, plaintext.length) };
      }
      const decrypt = createDecryptStream(this.#identities(key));
      const body = pipeline(got.body, decrypt, () => undefined);
      // Header MAC and first chunk verified before we answer: a wrong key or a tampered object
      // is an error status, not a 200 that breaks off.
      try {
        await primed(body);
      } catch (err) {
        // A truncated object whose header is intact fails here too: the size check said why.
        if (decrypt.header !== undefined) this.#checkSeal(key, decrypt.header.bytes, options.expect);
        throw err;
      }
      if (decrypt.header !== undefined) this.#checkSeal(key, decrypt.header.bytes, options.expect);
      this.#onKeyUse({ operation: 'decrypt', location: this.location, objectKey: key, keyId: sealedWith ?? 'unknown' });
      const size = this.#plaintextSize(got.info, decrypt.headerLength);
      return { body, info: this.#info(got.info, size) };
    } catch (err) {
      got.body.destroy();
      throw err;
    }
  }

  head(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return this.#run('head', key, () => this.#head(key, signal));
  }

  async #head(key: string, signal: AbortSignal | undefined): Promise<ObjectInfo> {
    const info = await this.#inner.head(key, signal);
    if (info.metadata[META_FORMAT] === 'fernet') {
      const size = Number(info.metadata[META_SIZE]);
      return this.#info(info, Number.isSafeInteger(size) ? size : info.size);
    }
    if (info.metadata[META_SIZE] !== undefined || info.metadata[META_HEADER] !== undefined) return this.#info(info, this.#plaintextSize(info));
    // Written by someone else (e.g. `age -r` and uploaded): read the header to size it.
    const first = await this.#inner.get(key, { range: { start: 0, end: Math.min(HEAD_FETCH_BYTES, info.size) - 1 }, ...(signal ? { signal } : {}) });
    const bytes = await collect(first.body, HEAD_FETCH_BYTES);
    return this.#info(info, plaintextSize(info.size - parseHeader(bytes).headerLength));
  }

  listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.#run('list', undefined, () => this.#listPage(prefix, options));
  }

  async #listPage(prefix: string, options: ListOptions): Promise<ListPage> {
    const page = await this.#inner.listPage(prefix, options);
    return {
      ...page,
      items: page.items.map((item) => {
        let size = item.size;
        try {
          size = plaintextSize(item.size - ONE_RECIPIENT_HEADER_BYTES);
        } catch {
          // Not a one-recipient age object (Fernet, or foreign): the stored size is all we know.
        }
        return { ...item, size, checksums: {} };
      }),
    };
  }

  /**
   * The age header this location puts in front of a payload sealed with `fileKey`: fan-out and
   * replication seal (or copy) one payload and give each location its own header.
   */
  headerFor(fileKey: Buffer): { readonly header: Buffer; readonly keyId: string } {
    const { active } = this.#keys();
    if (active.format !== 'age') throw new MovingDataError('unsupported', `location ${this.location} uses Fernet; an age payload cannot be shared with it`);
    return { header: encodeHeader(fileKey, [active.recipient]), keyId: active.id };
  }

  /**
   * Store `header ‖ payload` sealed elsewhere (see headerFor): the bytes pass through as they
   * are; only this store's bookkeeping metadata is added. `payloadSize` lets the store announce
   * the exact length (single-request uploads for small objects).
   */
  putSealed(
    key: string,
    sealed: { readonly header: Buffer; readonly keyId: string },
    payload: Readable,
    options: PutOptions & { readonly plaintextSize?: number },
  ): Promise<PutResult> {
    return this.#run('put', key, async () => {
      let metadata: Record<string, string>;
      try {
        metadata = lowercase(options.metadata);
      } catch (err) {
        payload.destroy();
        throw err;
      }
      const stream = Readable.from(
        (async function* () {
          yield sealed.header;
          yield* payload as AsyncIterable<Buffer>;
        })(),
      );
      return this.#inner.put(key, stream, {
        ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
        ...(options.tier === undefined ? {} : { tier: options.tier }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.plaintextSize === undefined ? {} : { size: sealed.header.length + payloadSize(options.plaintextSize) }),
        metadata: {
          ...metadata,
          [META_FORMAT]: 'age-v1',
          [META_KEY]: sealed.keyId,
          [META_HEADER]: String(sealed.header.length),
          ...(options.plaintextSize === undefined ? {} : { [META_SIZE]: String(options.plaintextSize) }),
        },
      });
    });
  }

  /**
   * Open a stored age object for copying elsewhere without decrypting it: its file key (from
   * the header, with this location's identities), where the payload starts, and what the
   * object says about itself. The payload is `inner.get(key, { range: { start: headerLength } })`.
   */
  openSealed(key: string, options: { readonly signal?: AbortSignal; readonly expect?: SealExpectation } = {}): Promise<SealedObject> {
    const { signal } = options;
    return this.#run('open', key, async () => {
      const info = await this.#inner.head(key, signal);
      this.#checkStoredSize(key, info, options.expect);
      if ((info.metadata[META_FORMAT] ?? 'age-v1') !== 'age-v1') throw new MovingDataError('unsupported', `${this.location}:${key} is not an age object`);
      const first = await this.#inner.get(key, { range: { start: 0, end: Math.min(HEAD_FETCH_BYTES, info.size) - 1 }, ...(signal ? { signal } : {}) });
      const opened = openFile(await collect(first.body, HEAD_FETCH_BYTES), this.#identities(key));
      this.#checkSeal(key, opened.header.bytes, options.expect);
      const size = plaintextSize(info.size - opened.headerLength);
      return {
        fileKey: opened.fileKey,
        headerLength: opened.headerLength,
        keyId: info.metadata[META_KEY] ?? 'unknown',
        storedSize: info.size,
        plaintextSize: size,
        info: this.#info(info, size),
      };
    });
  }

  /**
   * Re-wrap an object's file key to the location's active key, into `destination`: the header
   * is rewritten, the payload bytes are copied unchanged (never decrypted). The source object
   * is left as it is: the caller switches its records to the new object, then removes the old
   * one, so what is stored matches what is recorded at every moment (and a failure leaves the
   * original in place).
   */
  rewrap(key: string, destination: string, signal?: AbortSignal): Promise<RewrapResult> {
    return this.#run('rewrap', key, () => this.#rewrap(key, destination, signal));
  }

  async #rewrap(key: string, destination: string, signal: AbortSignal | undefined): Promise<RewrapResult> {
    const { active } = this.#keys();
    if (active.format !== 'age') throw new MovingDataError('unsupported', `location ${this.location} uses Fernet, whose tokens have no header to re-wrap`);
    const info = await this.#inner.head(key, signal);
    if ((info.metadata[META_FORMAT] ?? 'age-v1') !== 'age-v1') throw new MovingDataError('unsupported', `${key} is not an age object`);
    const sealedWith = info.metadata[META_KEY];
    if (sealedWith === active.id) return { changed: false, keyId: active.id };
    const first = await this.#inner.get(key, { range: { start: 0, end: Math.min(HEAD_FETCH_BYTES, info.size) - 1 }, ...(signal ? { signal } : {}) });
    const { header, headerLength } = parseHeader(await collect(first.body, HEAD_FETCH_BYTES));
    const newHeader = rewrapHeader(header.bytes, this.#identities(key), [active.recipient]);
    const payload = await this.#inner.get(key, { range: { start: headerLength }, ...(signal ? { signal } : {}) });
    const sealed = Readable.from(
      (async function* () {
        yield newHeader;
        yield* payload.body as AsyncIterable<Buffer>;
      })(),
    );
    const tier = info.tier !== undefined && this.#inner.features.tiers.some((t) => t.name === info.tier) ? info.tier : undefined;
    const storedSize = newHeader.length + (info.size - headerLength);
    const put = await this.#inner.put(destination, sealed, {
      size: storedSize,
      ...(info.contentType === undefined ? {} : { contentType: info.contentType }),
      ...(tier === undefined ? {} : { tier }),
      metadata: { ...info.metadata, [META_KEY]: active.id, [META_HEADER]: String(newHeader.length) },
      ...(signal ? { signal } : {}),
    });
    this.#onKeyUse({ operation: 'rewrap', location: this.location, objectKey: destination, keyId: active.id });
    return { changed: true, from: sealedWith ?? 'unknown', to: active.id, key: destination, storedSize, sealSha256: sha256Hex(newHeader), put };
  }

  // --- internals -------------------------------------------------------------------------------

  /** Every failure leaves as a StorageError (the port's contract), keeping its code. */
  async #run<T>(operation: string, key: string | undefined, work: () => Promise<T>): Promise<T> {
    const context = { provider: this.provider, location: this.location, operation, ...(key === undefined ? {} : { key }) };
    try {
      return await work();
    } catch (err) {
      throw toStorageError(err, context, (e) => new StorageError('internal', e instanceof Error ? e.message : String(e), context, { retryable: false, cause: e }));
    }
  }

  async #getRange(key: string, options: SealedGetOptions): Promise<GetResult> {
    const range = options.range!;
    const signal = options.signal === undefined ? {} : { signal: options.signal };
    const first = await this.#inner.get(key, { range: { start: 0, end: HEAD_FETCH_BYTES - 1 }, ...signal });
    const headBytes = await collect(first.body, HEAD_FETCH_BYTES);
    this.#checkStoredSize(key, first.info, options.expect);
    if ((first.info.metadata[META_FORMAT] ?? 'age-v1') === 'fernet') {
      // Fernet cannot open a slice: decrypt the whole (bounded) token and cut the range out.
      const whole = await this.get(key, { ...signal, ...(options.expect === undefined ? {} : { expect: options.expect }) });
      const plaintext = await collect(whole.body, this.#fernetMax);
      const [start, end] = this.#clamp(range, plaintext.length);
      return { body: Readable.from([plaintext.subarray(start, end + 1)]), info: whole.info, range: { start, end } };
    }
    const opened = openFile(headBytes, this.#identities(key));
    this.#checkSeal(key, opened.header.bytes, options.expect);
    const size = plaintextSize(first.info.size - opened.headerLength);
    const [start, end] = this.#clamp(range, size);
    const { plan, transform } = createRangeDecryptor(opened, { plaintextSize: size, start, end });
    // Small objects: the first fetch may already hold every chunk the range needs.
    const source =
      plan.fetchEnd < headBytes.length
        ? Readable.from([headBytes.subarray(plan.fetchStart, plan.fetchEnd + 1)])
        : (await this.#inner.get(key, { range: { start: plan.fetchStart, end: plan.fetchEnd }, ...signal })).body;
    const body = pipeline(source, transform, () => undefined);
    try {
      await primed(body);
    } catch (err) {
      source.destroy();
      throw err;
    }
    this.#onKeyUse({ operation: 'decrypt', location: this.location, objectKey: key, keyId: first.info.metadata[META_KEY] ?? 'unknown' });
    return { body, info: this.#info(first.info, size), range: { start, end } };
  }

  #clamp(range: { start: number; end?: number }, size: number): [number, number] {
    const end = Math.min(range.end ?? size - 1, size - 1);
    if (range.start < 0 || range.start >= size || end < range.start) {
      throw new MovingDataError('range_not_satisfiable', `range ${range.start}-${range.end ?? ''} is outside 0-${size - 1}`);
    }
    return [range.start, end];
  }

  #identities(key: string): X25519Identity[] {
    const identities = this.#keys()
      .all.filter((k): k is AgeKey => k.format === 'age')
      .flatMap((k) => (k.identity === undefined ? [] : [k.identity]));
    if (identities.length === 0) {
      throw new MovingDataError('forbidden', `location ${this.location} holds only a public recipient: it can store ${key} but not read it`);
    }
    return identities;
  }

  async #openFernet(body: Readable, sealedWith: string | undefined, key: string, expect?: SealExpectation): Promise<Buffer> {
    const candidates = this.#keys().all.filter((k): k is FernetLocationKey => k.format === 'fernet');
    const ordered = [...candidates.filter((k) => k.id === sealedWith), ...candidates.filter((k) => k.id !== sealedWith)];
    if (ordered.length === 0) throw new MovingDataError('decryption_failed', `${key} is a Fernet object but location ${this.location} has no Fernet key`);
    const token = await collect(body, fernetTokenLength(this.#fernetMax) + 2);
    this.#checkSeal(key, token, expect);
    let lastError: unknown;
    for (const candidate of ordered) {
      try {
        const plaintext = await decryptTokenStream(candidate.key, [token], { maxBytes: this.#fernetMax });
        this.#onKeyUse({ operation: 'decrypt', location: this.location, objectKey: key, keyId: candidate.id });
        return plaintext;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof MovingDataError ? lastError : new MovingDataError('decryption_failed', `no key of location ${this.location} opens ${key}`);
  }

  #plaintextSize(info: ObjectInfo, headerLength?: number): number {
    const recorded = Number(info.metadata[META_SIZE]);
    if (info.metadata[META_SIZE] !== undefined && Number.isSafeInteger(recorded)) return recorded;
    const header = headerLength ?? Number(info.metadata[META_HEADER] ?? ONE_RECIPIENT_HEADER_BYTES);
    return plaintextSize(info.size - header);
  }

  #info(stored: ObjectInfo, size: number): ObjectInfo {
    return {
      key: stored.key,
      size,
      ...(stored.etag === undefined ? {} : { etag: stored.etag }),
      ...(stored.lastModified === undefined ? {} : { lastModified: stored.lastModified }),
      ...(stored.tier === undefined ? {} : { tier: stored.tier }),
      ...(stored.contentType === undefined ? {} : { contentType: stored.contentType }),
      checksums: {},
      metadata: userMetadata(stored.metadata),
    };
  }

  async #copy(source: string, destination: string, options: CopyOptions = {}): Promise<ObjectInfo> {
    let metadata: Record<string, string> | undefined;
    if (options.metadata !== undefined) {
      // New user metadata must keep our bookkeeping, or the copy could not be opened.
      const stored = await this.#inner.head(source, options.signal);
      metadata = { ...lowercase(options.metadata), ...internalMetadata(stored.metadata) };
    }
    const copied = await this.#inner.copy!(source, destination, { ...options, ...(metadata === undefined ? {} : { metadata }) });
    return this.#info(copied, this.#plaintextSize(copied));
  }
}
