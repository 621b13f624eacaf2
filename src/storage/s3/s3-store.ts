/**
 * S3 adapter (AWS S3 and S3-compatible servers such as MinIO), on the AWS SDK v3.
 *
 * Uploads stream. A body of known size up to `partSize` goes in one PutObject (aws-chunked,
 * with a CRC32 trailer). Anything larger, or of unknown size, goes multipart through part
 * buffers pooled per store (PartPool): at most `queueSize` parts of `partSize` in memory for
 * all uploads of the store together, each buffer reused from part to part, and the multipart
 * upload aborted on any failure so that nothing partial is ever visible. (lib-storage's
 * `Upload` holds queueSize + 1 parts and a fresh copy of each part per upload, and goes on
 * reading the body after a part has failed; see #putMultipart.) Every body passes a
 * `BodyMeter` that enforces the announced size and regroups small chunks (AWS rejects
 * aws-chunked chunks under 8 KiB).
 *
 * Checksums: every write asks for a full-object CRC32 (type FULL_OBJECT for multipart), which
 * S3 and MinIO verify on receipt and report on HEAD/GET. CRC32 rather than CRC32C because the
 * SDK computes CRC32 with Node's native zlib.crc32 (~6 GB/s here) but CRC32C in JavaScript
 * (~0.5 GB/s), which capped GETs at a third of rclone's speed. The ETag is an MD5 only for a
 * single-part object that is not SSE-KMS/SSE-C encrypted, and is reported as one only then.
 * Composite checksums (`...-N`) are never reported: they digest part digests, not the object.
 *
 * Keys go to the server verbatim, so other tools (aws, mc, rclone) see the same names. MinIO,
 * which stores objects as files, refuses some key shapes S3 accepts; with `keyRules: 'minio'`
 * those are refused up front as `invalid_key` with the reason (see filesystemKeyProblem in keys.ts).
 */
import { PassThrough, Readable, Transform, addAbortSignal, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type BucketLocationConstraint,
  type CompletedPart,
  type HeadObjectCommandOutput,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { MovingDataError } from '../../errors.ts';
import { isStorageError, type StorageErrorContext } from '../errors.ts';
import { assertStorableKey, filesystemKeyProblem } from '../keys.ts';
import { bareEtag } from '../etag.ts';
import type {
  ByteRange,
  ChecksumKind,
  Checksums,
  CopyOptions,
  GetOptions,
  GetResult,
  ListedObject,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  StoreFeatures,
  TierSpec,
} from '../port.ts';
import { toS3StorageError } from './map-error.ts';

/** Real AWS: the classes worth moving between, default first. */
export const AWS_STORAGE_CLASSES: readonly TierSpec[] = Object.freeze([
  Object.freeze({ name: 'STANDARD', class: 'hot' }),
  Object.freeze({ name: 'STANDARD_IA', class: 'cool' }),
  Object.freeze({ name: 'GLACIER_IR', class: 'cold' }),
  Object.freeze({ name: 'DEEP_ARCHIVE', class: 'archive', offline: true }),
] as const);

/** MinIO accepts only these two; anything else is `InvalidStorageClass`. */
export const MINIO_STORAGE_CLASSES: readonly TierSpec[] = Object.freeze([
  Object.freeze({ name: 'STANDARD', class: 'hot' }),
  Object.freeze({ name: 'REDUCED_REDUNDANCY', class: 'cool' }),
] as const);

export interface S3StoreOptions {
  /** Location name this store serves, e.g. `aws`. */
  readonly location: string;
  readonly bucket: string;
  /** Custom endpoint (MinIO, ...); AWS's regional endpoint when absent. */
  readonly endpoint?: string;
  readonly region: string;
  /** Static credentials; the SDK's default provider chain (env, profile, SSO, IMDS, ...) when absent. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Path-style URLs (`endpoint/bucket/key`); MinIO needs them. */
  readonly forcePathStyle?: boolean;
  /** Encrypt every write (put, copy, tier change) with SSE-KMS under this key. */
  readonly sseKms?: { readonly keyId: string };
  /** Storage classes offered as tiers, default first (AWS_STORAGE_CLASSES when absent). */
  readonly storageClasses?: readonly TierSpec[];
  /** Multipart part size in bytes (default 8 MiB, 5 MiB..5 GiB); also the largest single PUT. */
  readonly partSize?: number;
  /** Parts in flight (default 4): per store for uploads, so their memory ≈ partSize × queueSize; per object for copies. */
  readonly queueSize?: number;
  /** Attempts per request, the first included (default 5). Streamed single PUTs are never retried. */
  readonly maxAttempts?: number;
  /** A request fails when its connection stays silent this long (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** `minio` refuses, as `invalid_key`, the keys MinIO cannot store (filesystemKeyProblem); default `aws`. */
  readonly keyRules?: 'aws' | 'minio';
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const MIN_PART = 5 * MiB;
const MAX_PART = 5 * GiB;
const MAX_PARTS = 10_000;
/** Bodies up to this size go in one PutObject from memory (one request's worth, whatever the load). */
const SMALL_BODY_BYTES = 256 * 1024;

/** Largest object one CopyObject may copy; beyond, UploadPartCopy. */
const MAX_SINGLE_COPY = 5 * GiB;
const MAX_PAGE = 1000;
const MAX_SOCKETS = 64;
/** aws-chunked uploads need non-final chunks of at least 8 KiB; regroup to this size. */
const MIN_CHUNK = 64 * KiB;
/** The class S3 applies when none is named, and omits from HEAD responses. */
const DEFAULT_CLASS = 'STANDARD';
/** Listed objects whose key must be read from their metadata, looked up at once. */

const SILENT_LOGGER = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

// --- bodies ----------------------------------------------------------------------------------

/**
 * Passes a body through, counting bytes; stops it as soon as it exceeds the announced size,
 * or at its end when it fell short; regroups small chunks into MIN_CHUNK-sized ones.
 *
 * A failure never becomes an 'error' event: the SDK pipes this stream into its own, which do
 * not all listen for errors (an unheard 'error' crashes the process). Instead the meter records
 * `problem` and is destroyed quietly; the uploader sees a premature end, and the caller
 * reports `problem`.
 */
class BodyMeter extends Transform {
  readonly #expected: number | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  bytes = 0;
  problem: unknown;

  constructor(expected: number | undefined) {
    super({ readableHighWaterMark: MIN_CHUNK, writableHighWaterMark: MIN_CHUNK });
    this.#expected = expected;
  }

  /** Meter `source`: a failing source fails the meter, a stopped meter stops the source. */
  static of(source: Readable, expected: number | undefined): BodyMeter {
    const meter = new BodyMeter(expected);
    // Only a destroy(err) from outside could emit one; record it rather than crash.
    meter.on('error', (err) => {
      meter.problem ??= err;
    });
    source.on('error', (err) => meter.fail(err));
    meter.once('close', () => source.destroy());
    source.pipe(meter);
    return meter;
  }

  fail(problem: unknown): void {
    this.problem ??= problem;
    this.destroy();
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    let buffer: Buffer;
    try {
      buffer = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk as Uint8Array);
    } catch (err) {
      this.fail(new MovingDataError('invalid_argument', 'the body yielded something other than bytes', { cause: err }));
      return;
    }
    this.bytes += buffer.length;
    if (this.#expected !== undefined && this.bytes > this.#expected) {
      this.fail(new MovingDataError('invalid_argument', `body is longer than the announced ${this.#expected} bytes`));
      return;
    }
    if (this.#pendingBytes === 0 && buffer.length >= MIN_CHUNK) {
      callback(null, buffer);
      return;
    }
    this.#pending.push(buffer);
    this.#pendingBytes += buffer.length;
    if (this.#pendingBytes >= MIN_CHUNK) this.push(this.#take());
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#expected !== undefined && this.bytes !== this.#expected) {
      this.fail(new MovingDataError('invalid_argument', `body was ${this.bytes} bytes, ${this.#expected} were announced`));
      return;
    }
    if (this.#pendingBytes > 0) this.push(this.#take());
    callback();
  }

  #take(): Buffer {
    const out = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    return out;
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('aborted', { cause: reason }), { name: 'AbortError' });
}

/**
 * Part buffers shared by all multipart uploads of one store, reused from part to part: the
 * memory uploads hold stays at partSize × capacity however many run at once, and no part
 * leaves garbage behind. Buffers are dropped when the last upload using the pool ends.
 */
class PartPool {
  readonly partSize: number;
  readonly #capacity: number;
  #free: Buffer[] = [];
  #allocated = 0;
  #users = 0;
  #waiters: Array<(buffer: Buffer) => void> = [];

  constructor(partSize: number, capacity: number) {
    this.partSize = partSize;
    this.#capacity = capacity;
  }

  enter(): void {
    this.#users += 1;
  }

  leave(): void {
    this.#users -= 1;
    if (this.#users > 0) return;
    this.#allocated -= this.#free.length;
    this.#free = [];
  }

  /** A free buffer; waits (abortably) while all are in flight. */
  async take(signal: AbortSignal | undefined): Promise<Buffer> {
    signal?.throwIfAborted();
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#allocated < this.#capacity) {
      this.#allocated += 1;
      return Buffer.allocUnsafeSlow(this.partSize);
    }
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(abortReason(signal!));
      };
      const waiter = (buffer: Buffer) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(buffer);
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  give(buffer: Buffer): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(buffer);
    else this.#free.push(buffer);
  }
}

// --- responses -------------------------------------------------------------------------------

interface ChecksumHeaders {
  readonly ETag?: string | undefined;
  readonly ChecksumCRC32C?: string | undefined;
  readonly ChecksumCRC32?: string | undefined;
  readonly ChecksumSHA256?: string | undefined;
  readonly ChecksumType?: string | undefined;
  readonly ServerSideEncryption?: string | undefined;
  readonly SSECustomerAlgorithm?: string | undefined;
}

/** The response fields ObjectInfo is built from (HEAD and GET share them). */
interface InfoHeaders extends ChecksumHeaders {
  readonly ContentLength?: number | undefined;
  readonly LastModified?: Date | undefined;
  readonly StorageClass?: string | undefined;
  readonly ContentType?: string | undefined;
  readonly Metadata?: Record<string, string> | undefined;
}


function base64ToHex(value: string | undefined): string | undefined {
  // A composite checksum ("<base64>-<parts>") digests part digests, not the object.
  if (value === undefined || value === '' || value.includes('-')) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === 0 ? undefined : bytes.toString('hex');
}

/** Full-object checksums only, as lowercase hex. */
function checksumsOf(headers: ChecksumHeaders): Checksums {
  const out: Partial<Record<ChecksumKind, string>> = {};
  if (headers.ChecksumType !== 'COMPOSITE') {
    const crc32c = base64ToHex(headers.ChecksumCRC32C);
    const crc32 = base64ToHex(headers.ChecksumCRC32);
    const sha256 = base64ToHex(headers.ChecksumSHA256);
    if (crc32c !== undefined) out.crc32c = crc32c;
    if (crc32 !== undefined) out.crc32 = crc32;
    if (sha256 !== undefined) out.sha256 = sha256;
  }
  // The ETag is the content MD5 only for a single-part object that is not SSE-KMS or SSE-C
  // encrypted (SSE-S3 `AES256` keeps it); a multipart ETag carries a `-N` suffix.
  const etag = bareEtag(headers.ETag);
  const kms = headers.ServerSideEncryption?.startsWith('aws:kms') ?? false;
  if (etag !== undefined && /^[0-9a-f]{32}$/i.test(etag) && !kms && headers.SSECustomerAlgorithm === undefined) {
    out.md5 = etag.toLowerCase();
  }
  return out;
}

function lowercaseKeys(record: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(record ?? {})) out[name.toLowerCase()] = value;
  return out;
}

/** `x-amz-copy-source` is `bucket/key`, URL-encoded (RFC 3986: `+`, `?`, `#`, `%`, ... all escaped). */
function copySource(bucket: string, name: string): string {
  const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${strict(bucket)}/${strict(name)}`;
}

/** `bytes a-b/total` → its numbers. */
function parseContentRange(value: string | undefined): { start: number; end: number; total: number } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? '');
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) };
}

function rangeHeader(range: ByteRange): string {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw new MovingDataError('invalid_argument', `invalid byte range ${start}-${end ?? ''}`);
  }
  return `bytes=${start}-${end ?? ''}`;
}

function validateOptions(options: S3StoreOptions): void {
  const problems: string[] = [];
  if (options.bucket === '') problems.push('bucket is empty');
  if (options.region === '') problems.push('region is empty');
  const { partSize, queueSize, maxAttempts, requestTimeoutMs, storageClasses } = options;
  if (partSize !== undefined && (!Number.isSafeInteger(partSize) || partSize < MIN_PART || partSize > MAX_PART)) {
    problems.push(`partSize must be a whole number of bytes in ${MIN_PART}..${MAX_PART}`);
  }
  if (queueSize !== undefined && (!Number.isSafeInteger(queueSize) || queueSize < 1 || queueSize > 64)) problems.push('queueSize must be 1..64');
  if (maxAttempts !== undefined && (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1)) problems.push('maxAttempts must be at least 1');
  if (requestTimeoutMs !== undefined && (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0)) problems.push('requestTimeoutMs must be positive');
  if (storageClasses !== undefined) {
    if (storageClasses.length === 0) problems.push('storageClasses is empty');
    if (new Set(storageClasses.map((t) => t.name)).size !== storageClasses.length) problems.push('storageClasses has duplicate names');
  }
  if (options.sseKms !== undefined && options.sseKms.keyId === '') problems.push('sseKms.keyId is empty');
  if (problems.length > 0) throw new MovingDataError('config_invalid', `S3 store '${options.location}': ${problems.join('; ')}`);
}

// --- the store -------------------------------------------------------------------------------

interface Encryption {
  readonly ServerSideEncryption?: ServerSideEncryption;
  readonly SSEKMSKeyId?: string;
}

/** What every new object carries: where, type, metadata, class, checksum and encryption. */
interface WriteParams extends Encryption {
  readonly Bucket: string;
  readonly Key: string;
  readonly ContentType?: string;
  readonly Metadata: Record<string, string>;
  readonly StorageClass?: StorageClass;
  readonly ChecksumAlgorithm: 'CRC32';
}

export class S3Store implements ObjectStore {
  readonly provider = 's3' as const;
  readonly location: string;
  readonly container: string;
  readonly features: StoreFeatures;

  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #region: string;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #pool: PartPool;
  readonly #tiers: readonly TierSpec[];
  readonly #encryption: Encryption;
  readonly #keyRules: 'aws' | 'minio';

  constructor(options: S3StoreOptions) {
    validateOptions(options);
    this.location = options.location;
    this.container = options.bucket;
    this.#bucket = options.bucket;
    this.#region = options.region;
    this.#partSize = options.partSize ?? 8 * MiB;
    this.#queueSize = options.queueSize ?? 4;
    this.#pool = new PartPool(this.#partSize, this.#queueSize);
    this.#tiers = Object.freeze((options.storageClasses ?? AWS_STORAGE_CLASSES).map((t) => Object.freeze({ ...t })));
    this.#encryption = options.sseKms === undefined ? {} : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: options.sseKms.keyId };
    this.#keyRules = options.keyRules ?? 'aws';
    this.features = Object.freeze({
      copy: true,
      tiers: this.#tiers,
      // With SSE-KMS on every write, no ETag of ours is an MD5.
      checksums: Object.freeze<ChecksumKind[]>(options.sseKms === undefined ? ['crc32', 'md5'] : ['crc32']),
      multipartThreshold: this.#partSize,
    });

    const requestTimeout = options.requestTimeoutMs ?? 60_000;
    const agent = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: MAX_SOCKETS };
    this.#client = new S3Client({
      region: options.region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
      forcePathStyle: options.forcePathStyle ?? false,
      maxAttempts: options.maxAttempts ?? 5,
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
      // With `Expect: 100-continue` the SDK's Node handler opens a throwaway, unpooled
      // connection per upload request; without it every request shares the bounded pool.
      expectContinueHeader: false,
      requestHandler: {
        connectionTimeout: Math.min(requestTimeout, 10_000),
        socketTimeout: requestTimeout,
        httpAgent: agent,
        httpsAgent: agent,
      },
      // The SDK warns on the console (e.g. at every failed streamed PUT); failures reach
      // callers as StorageErrors instead.
      logger: SILENT_LOGGER,
    });
  }

  async ensureContainer(): Promise<void> {
    await this.#run('ensureContainer', undefined, async () => {
      try {
        await this.#client.send(
          new CreateBucketCommand({
            Bucket: this.#bucket,
            // us-east-1 is the one region that must not be named.
            ...(this.#region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: this.#region as BucketLocationConstraint } }),
          }),
        );
      } catch (err) {
        const name = (err as { name?: unknown }).name;
        if (name === 'BucketAlreadyOwnedByYou') return;
        // "Already exists" is ours when we can reach it; otherwise another account holds the name.
        if (name === 'BucketAlreadyExists' && (await this.#bucketReachable())) return;
        throw err;
      }
    });
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.#run('ping', undefined, async () => {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), { abortSignal: signal });
    });
  }

  keyProblem(key: string): string | undefined {
    return this.#keyRules === 'minio' ? filesystemKeyProblem(key, 'MinIO') : undefined;
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    return this.#run('put', key, async () => {
      let params: WriteParams;
      let tier: string;
      try {
        this.#assertKey(key);
        // Piping an ended or destroyed stream would wait forever for its end.
        if (body.readableEnded || body.destroyed) throw new MovingDataError('invalid_argument', 'the body stream was already consumed or destroyed');
        if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
          throw new MovingDataError('invalid_argument', `size ${options.size} is not a byte count`);
        }
        tier = this.#checkTier(options.tier ?? this.#tiers[0]!.name);
        params = this.#writeParams(key, tier, options.contentType, lowercaseKeys(options.metadata));
      } catch (err) {
        body.destroy();
        throw err;
      }
      const meter = BodyMeter.of(body, options.size);
      try {
        const { size, signal } = options;
        const out = size !== undefined && size <= this.#partSize ? await this.#putSingle(params, meter, size, signal) : await this.#putMultipart(params, meter, size, signal);
        const etag = bareEtag(out.ETag);
        return { key, size: meter.bytes, ...(etag === undefined ? {} : { etag }), checksums: checksumsOf(out), tier };
      } catch (err) {
        meter.destroy();
        // What went wrong with the body explains the failure better than how the upload broke.
        throw meter.problem ?? err;
      }
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    return this.#run('get', key, async () => {
      this.#assertKey(key);
      const range = options.range === undefined ? undefined : rangeHeader(options.range);
      // Awaiting the response means a missing key fails here, before any byte is handed out.
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: key, ChecksumMode: 'ENABLED', ...(range === undefined ? {} : { Range: range }) }),
        { abortSignal: options.signal },
      );
      if (!(out.Body instanceof Readable)) throw new MovingDataError('internal', 'GetObject returned no readable body');
      const served = parseContentRange(out.ContentRange);
      const info = this.#info(key, out, served?.total ?? out.ContentLength ?? 0);
      const body = this.#relayBody(out.Body, key);
      if (options.signal) addAbortSignal(options.signal, body);
      if (options.range === undefined) return { body, info };
      // A server that ignores Range answers 200 with the whole object.
      return { body, info, range: served === undefined ? { start: 0, end: Math.max(0, info.size - 1) } : { start: served.start, end: served.end } };
    });
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return this.#run('head', key, async () => {
      this.#assertKey(key);
      return this.#info(key, await this.#headKey(key, signal));
    });
  }

  async cleanupIncomplete(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    return this.#run('cleanup', undefined, async () => {
      let removed = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const page = await this.#client.send(
          new ListMultipartUploadsCommand({ Bucket: this.#bucket, ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }) }),
          { abortSignal: signal },
        );
        for (const upload of page.Uploads ?? []) {
          if (upload.Key === undefined || upload.UploadId === undefined) continue;
          if (upload.Initiated !== undefined && Date.now() - upload.Initiated.getTime() < olderThanMs) continue;
          await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: upload.Key, UploadId: upload.UploadId }), { abortSignal: signal });
          removed += 1;
        }
        if (page.IsTruncated !== true) return removed;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    });
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.#run('delete', key, async () => {
      this.#assertKey(key);
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }), { abortSignal: signal });
    });
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.#run('list', undefined, async () => {
      const limit = Math.max(1, Math.min(Math.floor(options.limit ?? MAX_PAGE), MAX_PAGE));
      const out = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: prefix,
          MaxKeys: limit,
          ...(options.delimiter === undefined ? {} : { Delimiter: options.delimiter }),
          // XML 1.0 cannot carry every character a key may hold; URL-encoded keys always fit.
          EncodingType: 'url',
          ...(options.cursor === undefined ? {} : { ContinuationToken: options.cursor }),
        }),
        { abortSignal: options.signal },
      );
      // Form encoding, as S3 and MinIO both produce it: `+` is a space, `%2B` a plus.
      const decode = out.EncodingType === 'url' ? (raw: string): string => decodeURIComponent(raw.replaceAll('+', ' ')) : (raw: string): string => raw;
      const items: ListedObject[] = [];
      for (const entry of out.Contents ?? []) {
        if (entry.Key === undefined) continue;
        const key = decode(entry.Key);
        const etag = bareEtag(entry.ETag);
        items.push({
          key,
          size: entry.Size ?? 0,
          ...(etag === undefined ? {} : { etag }),
          ...(entry.LastModified === undefined ? {} : { lastModified: entry.LastModified }),
          tier: entry.StorageClass ?? DEFAULT_CLASS,
          // A listing does not say how an object is encrypted, so its ETag cannot count as an MD5.
          checksums: {},
        });
      }
      const prefixes = (out.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [decode(p.Prefix)]));
      const page = prefixes.length === 0 ? { items } : { items, prefixes };
      if (out.IsTruncated !== true) return page;
      if (!out.NextContinuationToken) throw new MovingDataError('internal', 'the listing is truncated but has no continuation token');
      return { ...page, nextCursor: out.NextContinuationToken };
    });
  }

  async copy(sourceKey: string, destinationKey: string, options: CopyOptions = {}): Promise<ObjectInfo> {
    return this.#run('copy', sourceKey, async () => {
      this.#assertKey(sourceKey);
      this.#assertKey(destinationKey);
      const tier = options.tier === undefined ? undefined : this.#checkTier(options.tier);
      const head = await this.#headKey(sourceKey, options.signal);
      const current = head.StorageClass ?? DEFAULT_CLASS;
      // S3 refuses a copy onto itself that changes nothing; there is nothing to do then.
      if (sourceKey === destinationKey && options.metadata === undefined && (tier ?? current) === current) return this.#info(destinationKey, head);
      const metadata = options.metadata === undefined ? undefined : lowercaseKeys(options.metadata);
      await this.#copyObject(sourceKey, destinationKey, head, { tier: tier ?? current, metadata, signal: options.signal });
      return this.#info(destinationKey, await this.#headKey(destinationKey, options.signal));
    });
  }

  async setTier(key: string, tier: string, signal?: AbortSignal): Promise<void> {
    await this.#run('setTier', key, async () => {
      this.#assertKey(key);
      const checked = this.#checkTier(tier);
      const head = await this.#headKey(key, signal);
      // S3 refuses a copy onto itself that changes nothing; the tier is already right then.
      if ((head.StorageClass ?? DEFAULT_CLASS) === checked) return;
      await this.#copyObject(key, key, head, { tier: checked, signal });
    });
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  // --- internals -------------------------------------------------------------------------------

  #checkTier(tier: string): string {
    if (!this.#tiers.some((t) => t.name === tier)) {
      throw new MovingDataError('invalid_argument', `unknown tier '${tier}'; this store has ${this.#tiers.map((t) => t.name).join(', ')}`);
    }
    return tier;
  }

  #writeParams(key: string, tier: string, contentType: string | undefined, metadata: Record<string, string>): WriteParams {
    return {
      Bucket: this.#bucket,
      Key: key,
      ...(contentType === undefined ? {} : { ContentType: contentType }),
      Metadata: metadata,
      // STANDARD is what S3 applies when no class is named; naming it is noise (and some
      // S3-compatible servers reject the header).
      ...(tier === DEFAULT_CLASS ? {} : { StorageClass: tier as StorageClass }),
      ChecksumAlgorithm: 'CRC32',
      ...this.#encryption,
    };
  }

  async #putSingle(params: WriteParams, meter: BodyMeter, size: number, signal: AbortSignal | undefined): Promise<ChecksumHeaders> {
    if (size <= SMALL_BODY_BYTES) {
      // A small body is gathered and sent whole, its CRC32 in a header: aws-chunked framing (and
      // its trailer) costs the server more than the bytes themselves at this size (measured with
      // `npm run bench -- small`: MinIO's CPU per 4 KiB PUT).
      const chunks: Buffer[] = [];
      for await (const chunk of meter) chunks.push(chunk as Buffer);
      return this.#putWhole(params, chunks, signal);
    }
    // The SDK's handler does not end a request whose streamed body stops early: it would wait
    // for bytes that never come. Abort the request when the meter stops.
    const controller = new AbortController();
    meter.once('close', () => {
      if (meter.problem !== undefined) controller.abort(meter.problem);
    });
    const abortSignal = signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal]);
    return this.#client.send(new PutObjectCommand({ ...params, Body: meter, ContentLength: size }), { abortSignal });
  }

  /** A body already in memory, in one PutObject (its CRC32 in a header, no aws-chunked framing). */
  #putWhole(params: WriteParams, chunks: readonly Buffer[], signal: AbortSignal | undefined): Promise<ChecksumHeaders> {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    return this.#client.send(new PutObjectCommand({ ...params, Body: body, ContentLength: body.length }), { abortSignal: signal });
  }

  /**
   * Multipart upload from pooled part buffers (one copy of each byte, no per-part garbage),
   * with as many parts in flight as the pool has buffers. A body of unknown size that ends
   * within one part goes in a single PutObject. On any failure the multipart upload is
   * aborted, so nothing becomes visible and no parts stay billed.
   */
  async #putMultipart(params: WriteParams, meter: BodyMeter, size: number | undefined, signal: AbortSignal | undefined): Promise<ChecksumHeaders> {
    // Part sizes grow for known objects that would otherwise need over 10,000 parts.
    const pool = size === undefined || size <= this.#pool.partSize * MAX_PARTS ? this.#pool : new PartPool(Math.ceil(size / MAX_PARTS), this.#queueSize);
    const partSize = pool.partSize;
    const chunks = meter[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

    // A body of unknown size may still be a small object until more than one part has arrived;
    // one of known size is here because it is larger than a part, so nothing is held back.
    const head: Buffer[] = [];
    if (size === undefined) {
      let headBytes = 0;
      while (headBytes <= partSize) {
        const next = await chunks.next();
        if (next.done === true) break;
        head.push(next.value);
        headBytes += next.value.length;
      }
      if (headBytes <= partSize) return this.#putWhole(params, head, signal);
    }

    pool.enter();
    const { UploadId } = await this.#client
      .send(new CreateMultipartUploadCommand({ ...params, ChecksumType: 'FULL_OBJECT' }), { abortSignal: signal })
      .catch((err: unknown) => {
        pool.leave();
        throw err;
      });
    if (UploadId === undefined) {
      pool.leave();
      throw new MovingDataError('internal', 'CreateMultipartUpload returned no upload id');
    }
    const where = { Bucket: params.Bucket, Key: params.Key, UploadId };
    const parts: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let buffer: Buffer | undefined;
    let filled = 0;
    let partNumber = 0;

    const send = (part: Buffer, length: number): void => {
      partNumber += 1;
      if (partNumber > MAX_PARTS) throw new MovingDataError('too_large', `the body needs more than ${MAX_PARTS} parts of ${partSize} bytes`);
      const number = partNumber;
      const upload = this.#client
        .send(new UploadPartCommand({ ...where, PartNumber: number, Body: part.subarray(0, length), ContentLength: length, ChecksumAlgorithm: 'CRC32' }), { abortSignal: signal })
        .then((out) => {
          if (out.ETag === undefined) throw new MovingDataError('internal', `UploadPart ${number} returned no ETag`);
          parts.push({ PartNumber: number, ETag: out.ETag, ...(out.ChecksumCRC32 === undefined ? {} : { ChecksumCRC32: out.ChecksumCRC32 }) });
        })
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => {
          pool.give(part);
          inFlight.delete(upload);
        });
      inFlight.add(upload);
    };
    const rethrowFailure = (): void => {
      if (failure !== undefined) throw failure.error;
    };
    const write = async (chunk: Buffer): Promise<void> => {
      for (let offset = 0; offset < chunk.length; ) {
        rethrowFailure();
        buffer ??= await pool.take(signal);
        // A part may have failed while this waited for a buffer.
        rethrowFailure();
        const copied = chunk.copy(buffer, filled, offset);
        filled += copied;
        offset += copied;
        if (filled === partSize) {
          send(buffer, filled);
          buffer = undefined;
          filled = 0;
        }
      }
    };

    try {
      for (const chunk of head) await write(chunk);
      head.length = 0;
      for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) await write(next.value);
      if (filled > 0) send(buffer!, filled);
      else if (buffer !== undefined) pool.give(buffer);
      buffer = undefined;
      while (inFlight.size > 0) await Promise.all(inFlight);
      rethrowFailure();
      parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      return await this.#client.send(new CompleteMultipartUploadCommand({ ...where, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: parts } }), { abortSignal: signal });
    } catch (err) {
      if (buffer !== undefined) pool.give(buffer);
      while (inFlight.size > 0) await Promise.all(inFlight);
      // Not with the caller's signal: an aborted put must still clean up after itself.
      await this.#client.send(new AbortMultipartUploadCommand(where)).catch(() => undefined);
      throw err;
    } finally {
      pool.leave();
    }
  }

  async #headKey(key: string, signal: AbortSignal | undefined): Promise<HeadObjectCommandOutput> {
    return this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key, ChecksumMode: 'ENABLED' }), { abortSignal: signal });
  }

  /** The port's key rules, then the server's (MinIO's), as `invalid_key` with the reason. */
  #assertKey(key: string): void {
    assertStorableKey(key);
    const problem = this.keyProblem(key);
    if (problem !== undefined) throw new MovingDataError('invalid_key', problem, { details: { reason: problem } });
  }

  async #bucketReachable(): Promise<boolean> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Server-side copy of `source` onto `target` (possibly itself, to change its class). Keeps
   * content type and metadata unless new metadata is given, and re-applies the store's
   * encryption: S3 does not carry SSE-KMS over from the source by itself.
   */
  async #copyObject(
    sourceKey: string,
    targetKey: string,
    head: HeadObjectCommandOutput,
    options: { tier: string; metadata?: Record<string, string> | undefined; signal?: AbortSignal | undefined },
  ): Promise<void> {
    const replace = options.metadata !== undefined;
    const metadata = options.metadata ?? lowercaseKeys(head.Metadata);
    const common = {
      Bucket: this.#bucket,
      Key: targetKey,
      // Named even when STANDARD: a copy onto itself must state what changes.
      StorageClass: options.tier as StorageClass,
      ...this.#encryption,
    };
    const size = head.ContentLength ?? 0;
    if (size > MAX_SINGLE_COPY) {
      await this.#copyMultipart(sourceKey, size, { ...common, Metadata: metadata, ...(head.ContentType === undefined ? {} : { ContentType: head.ContentType }) }, options.signal);
      return;
    }
    await this.#client.send(
      new CopyObjectCommand({
        ...common,
        // The copy gets a full-object CRC32 of its own, whatever the source had.
        ChecksumAlgorithm: 'CRC32',
        CopySource: copySource(this.#bucket, sourceKey),
        MetadataDirective: replace ? 'REPLACE' : 'COPY',
        // REPLACE resets the content type too: carry the source's over.
        ...(replace ? { Metadata: metadata, ...(head.ContentType === undefined ? {} : { ContentType: head.ContentType }) } : {}),
      }),
      { abortSignal: options.signal },
    );
  }

  /**
   * CopyObject stops at 5 GiB; beyond, copy byte ranges with UploadPartCopy, `queueSize` at a
   * time. No checksum algorithm is requested: MinIO does not checksum copied parts and then
   * refuses to complete (AWS applies its default checksum to the result).
   */
  async #copyMultipart(
    sourceName: string,
    size: number,
    params: Encryption & { Bucket: string; Key: string; StorageClass: StorageClass; Metadata: Record<string, string>; ContentType?: string },
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const partSize = Math.max(512 * MiB, Math.ceil(size / MAX_PARTS / MiB) * MiB);
    const count = Math.ceil(size / partSize);
    const created = await this.#client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal });
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new MovingDataError('internal', 'CreateMultipartUpload returned no upload id');
    const where = { Bucket: params.Bucket, Key: params.Key, UploadId: uploadId };
    try {
      const parts: CompletedPart[] = [];
      let next = 1;
      const worker = async (): Promise<void> => {
        for (let part = next++; part <= count; part = next++) {
          const start = (part - 1) * partSize;
          const end = Math.min(size, start + partSize) - 1;
          const out = await this.#client.send(
            new UploadPartCopyCommand({ ...where, PartNumber: part, CopySource: copySource(this.#bucket, sourceName), CopySourceRange: `bytes=${start}-${end}` }),
            { abortSignal: signal },
          );
          const result = out.CopyPartResult;
          if (result?.ETag === undefined) throw new MovingDataError('internal', `UploadPartCopy of part ${part} returned no ETag`);
          parts.push({ PartNumber: part, ETag: result.ETag });
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#queueSize, count) }, worker));
      parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await this.#client.send(new CompleteMultipartUploadCommand({ ...where, MultipartUpload: { Parts: parts } }), { abortSignal: signal });
    } catch (err) {
      // Leave no parts behind (they are billed); the copy's own failure is what matters.
      await this.#client.send(new AbortMultipartUploadCommand(where)).catch(() => undefined);
      throw err;
    }
  }

  #info(key: string, out: InfoHeaders, size = out.ContentLength ?? 0): ObjectInfo {
    const etag = bareEtag(out.ETag);
    const metadata = lowercaseKeys(out.Metadata);
    return {
      key,
      size,
      ...(etag === undefined ? {} : { etag }),
      ...(out.LastModified === undefined ? {} : { lastModified: out.LastModified }),
      // S3 omits the header for STANDARD.
      tier: out.StorageClass ?? DEFAULT_CLASS,
      ...(out.ContentType === undefined ? {} : { contentType: out.ContentType }),
      checksums: checksumsOf(out),
      metadata,
    };
  }

  /** Hands out a body whose mid-stream failures (reset, checksum mismatch) are StorageErrors. */
  #relayBody(source: Readable, key: string): Readable {
    const context = this.#context('get', key);
    const out = new PassThrough({ highWaterMark: 64 * KiB });
    source.on('error', (err) => out.destroy(toS3StorageError(err, context)));
    // A reader that stops early destroys `out`; the connection must go with it.
    out.once('close', () => source.destroy());
    source.pipe(out);
    return out;
  }

  #context(operation: string, key: string | undefined): StorageErrorContext {
    return { provider: 's3', location: this.location, operation, ...(key === undefined ? {} : { key }) };
  }

  async #run<T>(operation: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isStorageError(err)) throw err;
      throw toS3StorageError(err, this.#context(operation, key));
    }
  }
}
