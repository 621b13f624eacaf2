/**
 * Google Cloud Storage adapter, on the official SDK (`@google-cloud/storage`, JSON API).
 *
 * Uploads: a body of known size up to `resumableThreshold` (or of unknown size that turns out to
 * end within it) is held in memory and sent in one request that declares its CRC32C, so the
 * server refuses corrupted bytes before the object exists. Anything larger is a resumable
 * upload, finalised only after its last byte, so a failed upload never becomes visible. By
 * default it streams in a single request (a few buffers in memory; a failure means starting
 * again). With `chunkSize` it goes in chunks that can be re-sent after a failure; the SDK then
 * keeps the chunk in flight in memory and, because it acknowledges writes before consuming
 * them, would buffer without limit from a source faster than the network: the UploadPacer
 * below holds the source back. Memory per upload: up to resumableThreshold for small bodies;
 * a few MiB streaming, or about 3 × chunkSize chunked.
 *
 * Downloads read the object's metadata first (so `not_found` and 416 come before any byte) and
 * then stream that exact generation, so the body always matches the returned info; a whole
 * object is checked against its stored CRC32C. The media request is a plain GET authorised by
 * the SDK, not the SDK's download stream (see #download).
 *
 * CRC32C is computed by crc32c.ts (~1.1 GB/s), also inside the SDK (`crc32cGenerator`): the
 * SDK's own runs at ~95 MiB/s and capped every GCS transfer at that speed.
 *
 * Storage classes change by rewrite (how GCS does it); copies keep the source's class unless a
 * tier is given. The content type and storage class of every object written are checked: what
 * a server ignored (fake-gcs-server ignores some, see #settle) is set by a metadata patch, and
 * what still does not stick is an error, never a silent success.
 *
 * Timeouts: the SDK's JSON transport (teeny-request over node-fetch 3) ignores its `timeout`
 * option, so every single-response call runs under a deadline of our own (`timeoutMs`). A
 * resumable upload may rightly take hours, so it is failed when it stops moving instead: no
 * byte taken by the SDK, or no answer to the last one, for `timeoutMs`.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, Transform, addAbortSignal, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IdempotencyStrategy,
  RETRYABLE_ERR_FN_DEFAULT,
  Storage,
  type ApiError,
  type Bucket,
  type CopyOptions,
  type File,
  type FileMetadata,
  type StorageOptions,
} from '@google-cloud/storage';
import { MovingDataError } from '../../errors.ts';
import { StorageError, type StorageErrorContext, isNetworkError } from '../errors.ts';
import { assertStorableKey, compareKeys, filesystemKeyProblem } from '../keys.ts';
import {
  type Checksums,
  type CopyOptions as PortCopyOptions,
  type GetOptions,
  type GetResult,
  type ListedObject,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  type StoreFeatures,
  type TierClass,
  type TierSpec,
  LIST_PAGE_MAX,
} from '../port.ts';
import { Crc32c } from '../crc32c.ts';
import { mapGcsError } from './map-error.ts';

export interface GcsStoreOptions {
  /** Location name this store serves, e.g. `gcp`. */
  readonly location: string;
  readonly bucket: string;
  /**
   * A custom endpoint such as fake-gcs-server's; the SDK sends no credentials to it. Without
   * it: real GCS, authenticated with `keyFilename`, `credentials` or application default
   * credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, or the metadata server).
   */
  readonly apiEndpoint?: string;
  /** Project that owns new buckets; taken from the credentials when omitted. */
  readonly projectId?: string;
  /** Path to a service-account key file. */
  readonly keyFilename?: string;
  /** A service-account key, inline. */
  readonly credentials?: StorageOptions['credentials'];
  /** Largest body sent in a single request (default 8 MiB); larger ones are resumable. */
  readonly resumableThreshold?: number;
  /**
   * Send resumable uploads in requests of this many bytes (a multiple of 256 KiB, 8 MiB or more
   * recommended), so that a failed request is re-sent instead of the upload failing. Unset
   * (default): one streaming request per upload.
   */
  readonly chunkSize?: number;
  /** Retries after a failed attempt of each request (default 3; 0 disables retries). */
  readonly maxRetries?: number;
  /**
   * Longest wait for one API call, retries included (default 60 s); a rewrite gets this much per
   * GiB of object, and a resumable upload fails when it makes no progress for this long.
   */
  readonly timeoutMs?: number;
  /** Storage classes offered as tiers, default first (default STANDARD, NEARLINE, COLDLINE, ARCHIVE). */
  readonly storageClasses?: readonly string[];
  /**
   * `fake-gcs` refuses, as `invalid_key`, the keys fake-gcs-server's filesystem backend cannot
   * store (see filesystemKeyProblem), and pages its delimited listings as GCS does (see
   * listPage); default `gcs` (real GCS takes every key but a few names).
   */
  readonly keyRules?: 'gcs' | 'fake-gcs';
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const DEFAULT_RESUMABLE_THRESHOLD = 8 * MiB;
/** GCS requires every chunk but the last to be a multiple of this. */
const CHUNK_GRANULARITY = 256 * KiB;
/** Above this, one in-memory request body (or chunk) per concurrent upload gets expensive. */
const MAX_BUFFERED_BYTES = 256 * MiB;
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * Page size when the caller names none. A caller may ask for up to the port's LIST_PAGE_MAX:
 * GCS serves "this parameter or 1,000 items, whichever is smaller" (objects.list, maxResults),
 * so a larger request is valid and costs real GCS nothing, while a server that pages wider
 * (fake-gcs-server, which reads its whole bucket for every page) then answers a full walk in a
 * fifth of the requests.
 */
const DEFAULT_PAGE = 1000;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** Only what a ListedObject needs; real GCS then sends no ACLs, owners or links. */
const LIST_FIELDS = 'items(name,size,md5Hash,crc32c,etag,updated,storageClass),prefixes,nextPageToken';

/**
 * GCS storage classes and their temperature. ARCHIVE is online in GCS (read at once, at a
 * price), unlike S3 Glacier or Azure Archive, so no class is `offline`. The legacy classes are
 * accepted for buckets that still use them.
 */
const CLASS_TEMPERATURE: Readonly<Record<string, TierClass>> = {
  STANDARD: 'hot',
  NEARLINE: 'cool',
  COLDLINE: 'cold',
  ARCHIVE: 'archive',
  MULTI_REGIONAL: 'hot',
  REGIONAL: 'hot',
  DURABLE_REDUCED_AVAILABILITY: 'hot',
};
const DEFAULT_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'];

/** What an SDK request interceptor returns (the type is not exported by name). */
type SdkRequestOptions = ReturnType<Storage['interceptors'][number]['request']>;

/** What a rewrite response carries (the SDK types it as unknown). */
interface RewriteResponse {
  readonly done?: boolean;
  readonly resource?: FileMetadata;
}

/** The metadata part of an upload: what GCS stores besides the bytes. */
interface UploadMetadata {
  readonly contentType: string;
  readonly metadata?: Record<string, string>;
  readonly storageClass?: string;
}

export class GcsStore implements ObjectStore {
  readonly provider = 'gcs' as const;
  readonly location: string;
  readonly container: string;
  readonly features: StoreFeatures;

  readonly #storage: Storage;
  readonly #bucket: Bucket;
  readonly #tiers: readonly TierSpec[];
  readonly #keyRules: 'gcs' | 'fake-gcs';
  readonly #resumableThreshold: number;
  readonly #chunkSize: number | undefined;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  /** Media downloads (undefined behind a proxy: the SDK's download then). */
  readonly #downloads: MediaDownloads | undefined;
  /** Ends a transfer in flight; close() calls them all so no socket outlives the store. */
  readonly #active = new Set<(err: Error) => void>();

  constructor(options: GcsStoreOptions) {
    this.location = options.location;
    this.container = options.bucket;
    this.#resumableThreshold = integerOption('resumableThreshold', options.resumableThreshold ?? DEFAULT_RESUMABLE_THRESHOLD, 0, MAX_BUFFERED_BYTES);
    this.#chunkSize = options.chunkSize === undefined ? undefined : integerOption('chunkSize', options.chunkSize, CHUNK_GRANULARITY, MAX_BUFFERED_BYTES);
    if (this.#chunkSize !== undefined && this.#chunkSize % CHUNK_GRANULARITY !== 0) {
      throw new MovingDataError('config_invalid', `chunkSize must be a multiple of ${CHUNK_GRANULARITY} bytes (256 KiB)`);
    }
    this.#timeoutMs = integerOption('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1, 24 * 3600 * 1000);
    const maxRetries = integerOption('maxRetries', options.maxRetries ?? DEFAULT_MAX_RETRIES, 0, 100);
    this.#maxRetries = maxRetries;
    this.#keyRules = options.keyRules ?? 'gcs';
    this.#tiers = tierSpecs(options.storageClasses ?? DEFAULT_CLASSES);
    const features: StoreFeatures = { copy: true, tiers: this.#tiers, checksums: ['md5', 'crc32c'], multipartThreshold: this.#resumableThreshold };
    this.features = Object.freeze(features);

    this.#storage = new Storage({
      ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
      ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
      ...(options.keyFilename === undefined ? {} : { keyFilename: options.keyFilename }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      userAgent: 'movingdata',
      // The SDK's own CRC32C runs at ~95 MiB/s and would cap every validated transfer there.
      crc32cGenerator: () => new Crc32c(),
      retryOptions: {
        // The SDK reads maxRetries 0 as "use the default (3)"; autoRetry is what turns retries off.
        autoRetry: maxRetries > 0,
        maxRetries: Math.max(maxRetries, 1),
        retryDelayMultiplier: 2,
        maxRetryDelay: 16,
        // The SDK measures this from the start of a whole resumable upload and stops retrying
        // chunks once it has passed; our own deadlines bound the single calls instead.
        totalTimeout: 24 * 3600,
        // Every write here replaces a whole object (or deletes one, where 404 counts as done),
        // so a repeated request converges to the same state.
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
        retryableErrorFn: isRetryable,
      },
    });
    this.#storage.interceptors.push({
      request: (reqOpts) => {
        // `forever` (the default) pools sockets in one module-wide keep-alive agent, which the
        // SDK destroys outright when any download ends early (file.js, createReadStream),
        // killing every other transfer in the process; without it requests use Node's global
        // keep-alive agent, which nothing destroys.
        return Object.assign(reqOpts, { forever: false }) as SdkRequestOptions;
      },
    });
    this.#bucket = this.#storage.bucket(options.bucket);
    this.#downloads = proxyConfigured() ? undefined : new MediaDownloads(this.#storage.apiEndpoint);
  }

  async ensureContainer(): Promise<void> {
    await this.#run('ensureContainer', undefined, async () => {
      if (await this.#bucketExists()) return;
      try {
        await this.#deadline(() => this.#storage.createBucket(this.container));
      } catch (err) {
        // Another writer created it between our check and our create. (A bucket name taken by
        // another project also answers 409; the second check then fails with access_denied.)
        if (this.#map(err, 'ensureContainer').code !== 'conflict' || !(await this.#bucketExists())) throw err;
      }
    });
  }

  /**
   * Lists one key rather than reading the bucket's metadata: reading bucket metadata needs
   * `storage.buckets.get`, which object-level roles (Storage Object Admin) do not grant, and
   * a store that can list, read and write objects is usable.
   */
  keyProblem(key: string): string | undefined {
    return gcsKeyProblem(key) ?? (this.#keyRules === 'fake-gcs' ? filesystemKeyProblem(key, 'fake-gcs-server (filesystem backend)') : undefined);
  }

  /** The port's key rules, then the server's, as `invalid_key` with the reason. */
  #checkKey(key: string): void {
    assertStorableKey(key);
    const problem = this.keyProblem(key);
    if (problem !== undefined) throw new MovingDataError('invalid_key', problem, { details: { reason: problem } });
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.#run('ping', undefined, async () => {
      await this.#deadline(() => this.#bucket.getFiles({ maxResults: 1, autoPaginate: false, fields: 'nextPageToken' }), signal);
    });
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    return this.#run('put', key, async () => {
      try {
        this.#checkKey(key);
        const size = options.size;
        if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
          throw new MovingDataError('invalid_argument', `size must be a non-negative integer, got ${size}`);
        }
        const upload: UploadMetadata = {
          contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
          ...(options.metadata === undefined || Object.keys(options.metadata).length === 0 ? {} : { metadata: lowercaseKeys(options.metadata) }),
          ...(options.tier === undefined ? {} : { storageClass: this.#checkTier(options.tier) }),
        };
        if (options.signal) addAbortSignal(options.signal, body);
        const file = this.#bucket.file(key);

        let resource: FileMetadata;
        if (size !== undefined && size > this.#resumableThreshold) {
          resource = await this.#putResumable(file, body, upload, size, options.signal);
        } else {
          // Read one more byte than allowed: a body that goes on past it is resumable (size
          // unknown) or longer than announced.
          const limit = size ?? this.#resumableThreshold;
          const iterator = body[Symbol.asyncIterator]() as AsyncIterator<unknown>;
          const head = await takeUpTo(iterator, limit);
          if (size !== undefined && head.bytes !== size) throw lengthMismatch(size, head.bytes, head.done);
          if (head.done) {
            // Small enough to send at once; joining at most `resumableThreshold` bytes is what
            // lets the request be retried and its checksums be declared up front.
            resource = await this.#putSingle(file, head.chunks.length === 1 ? head.chunks[0]! : Buffer.concat(head.chunks, head.bytes), upload, options.signal);
          } else {
            resource = await this.#putResumable(file, Readable.from(replay(head.chunks, iterator), { objectMode: false }), upload, undefined, options.signal);
          }
        }
        resource = await this.#settle(file, resource, upload, options.signal);
        return {
          key,
          size: Number(resource.size ?? 0),
          ...(resource.etag ? { etag: resource.etag } : {}),
          checksums: checksumsOf(resource),
          ...(resource.storageClass ? { tier: resource.storageClass } : {}),
        };
      } catch (err) {
        body.destroy();
        throw err;
      }
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    return this.#run('get', key, async () => {
      this.#checkKey(key);
      const [meta] = await this.#deadline(() => this.#bucket.file(key).getMetadata(), options.signal);
      const info = toInfo(key, meta);
      let range: { start: number; end: number } | undefined;
      if (options.range) {
        const start = options.range.start;
        const end = Math.min(options.range.end ?? info.size - 1, info.size - 1);
        if (!Number.isSafeInteger(start) || start < 0 || start >= info.size || end < start) {
          throw new MovingDataError('range_not_satisfiable', `range ${start}-${options.range.end ?? ''} is outside 0-${info.size - 1}`);
        }
        range = { start, end };
      }
      if (info.size === 0) return { body: Readable.from([]), info };
      // Read the generation the metadata describes: if the object is replaced meanwhile, the
      // read fails (not_found) instead of pairing new bytes with old info.
      const body = await this.#download(key, meta, range, options.signal);
      return range ? { body, info, range } : { body, info };
    });
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return this.#run('head', key, async () => {
      this.#checkKey(key);
      const [meta] = await this.#deadline(() => this.#bucket.file(key).getMetadata(), signal);
      return toInfo(key, meta);
    });
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.#run('delete', key, async () => {
      this.#checkKey(key);
      await this.#deadline(() => this.#bucket.file(key).delete({ ignoreNotFound: true }), signal);
    });
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.#run('list', undefined, async () => {
      const limit = Math.max(1, Math.min(Math.trunc(options.limit ?? DEFAULT_PAGE), LIST_PAGE_MAX));
      const [, , response] = await this.#deadline(
        () =>
          this.#bucket.getFiles({
            ...(prefix === '' ? {} : { prefix }),
            maxResults: limit,
            ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }),
            // GCS's page token is opaque and already what the port wants from a cursor.
            ...(options.cursor === undefined ? {} : { pageToken: options.cursor }),
            autoPaginate: false,
            fields: LIST_FIELDS,
          }),
        options.signal,
      );
      const page = (response ?? {}) as { items?: FileMetadata[]; prefixes?: string[]; nextPageToken?: string };
      const items = (page.items ?? []).map(toListed);
      let prefixes = page.prefixes ?? [];
      // fake-gcs-server returns every prefix from the page's start onwards on each page (its
      // page token is the next object's name): keep those that sort before the next page.
      const until = this.#keyRules === 'fake-gcs' ? page.nextPageToken : undefined;
      if (until) prefixes = prefixes.filter((p) => compareKeys(p, until) < 0);
      const result = prefixes.length === 0 ? { items } : { items, prefixes };
      return page.nextPageToken ? { ...result, nextCursor: page.nextPageToken } : result;
    });
  }

  async copy(sourceKey: string, destinationKey: string, options: PortCopyOptions = {}): Promise<ObjectInfo> {
    return this.#run('copy', sourceKey, async () => {
      this.#checkKey(sourceKey);
      this.#checkKey(destinationKey);
      const wanted = options.tier === undefined ? undefined : this.#checkTier(options.tier);
      const [source] = await this.#deadline(() => this.#bucket.file(sourceKey).getMetadata(), options.signal);
      const resource = await this.#rewrite(sourceKey, source, destinationKey, {
        // Without a class, GCS would give the copy the bucket's default class; keep the source's.
        storageClass: wanted ?? source.storageClass,
        metadata: options.metadata === undefined ? source.metadata : lowercaseKeys(options.metadata),
        signal: options.signal,
      });
      return toInfo(destinationKey, resource);
    });
  }

  async setTier(key: string, tier: string, signal?: AbortSignal): Promise<void> {
    await this.#run('setTier', key, async () => {
      this.#checkKey(key);
      const wanted = this.#checkTier(tier);
      const [meta] = await this.#deadline(() => this.#bucket.file(key).getMetadata(), signal);
      // GCS refuses a rewrite onto itself that changes nothing.
      if (meta.storageClass === wanted) return;
      await this.#rewrite(key, meta, key, {
        storageClass: wanted,
        metadata: meta.metadata,
        // Only replace the generation we read: a write that lands meanwhile is not overwritten
        // with the older bytes (precondition_failed instead).
        ifGenerationMatch: meta.generation,
        signal,
      });
    });
  }

  async close(): Promise<void> {
    const closed = new StorageError('unavailable', 'store closed', this.#context('close'));
    for (const cancel of [...this.#active]) cancel(closed);
    this.#active.clear();
    this.#downloads?.close();
  }

  // --- internals -------------------------------------------------------------------------------

  /**
   * One request with the bytes and their declared CRC32C, retried as a whole. GCS refuses bytes
   * that do not match a declared hash, so the SDK's own validation (another pass over the bytes)
   * is off, and no MD5 is computed (GCS computes and reports it; CRC32C here is faster than
   * native MD5). What the server reports is compared with what was sent, and an object a server
   * stored wrongly anyway (one that ignores declared hashes) is deleted.
   */
  async #putSingle(file: File, bytes: Buffer, upload: UploadMetadata, signal: AbortSignal | undefined): Promise<FileMetadata> {
    const checksum = new Crc32c();
    checksum.update(bytes);
    const crc32c = checksum.toString();
    await this.#deadline(
      () =>
        file.save(bytes, {
          resumable: false,
          validation: false,
          contentType: upload.contentType,
          metadata: { ...upload, crc32c },
        }),
      signal,
    );
    const stored = file.metadata;
    if (stored.crc32c !== undefined && stored.crc32c !== crc32c) {
      const precondition = stored.generation === undefined ? {} : { ifGenerationMatch: stored.generation };
      await this.#deadline(() => file.delete({ ignoreNotFound: true, ...precondition }), signal).catch(() => undefined);
      throw new MovingDataError('checksum_mismatch', `the server stored other bytes than were sent (CRC32C ${stored.crc32c}, sent ${crc32c}); the object was deleted`);
    }
    return stored;
  }

  /**
   * A resumable upload, finalised by the SDK only once the body has ended. With a known size,
   * bytes past it or a body that ends short fail the upload before that, so the session is
   * never finalised; GCS also checks the announced length (X-Upload-Content-Length).
   */
  async #putResumable(file: File, body: Readable, upload: UploadMetadata, size: number | undefined, signal: AbortSignal | undefined): Promise<FileMetadata> {
    const writer = file.createWriteStream({
      resumable: true,
      ...(this.#chunkSize === undefined ? {} : { chunkSize: this.#chunkSize }),
      validation: 'crc32c',
      contentType: upload.contentType,
      metadata: size === undefined ? { ...upload } : { ...upload, contentLength: size },
    });
    // The SDK abandons the request in flight when an upload fails on this side (it destroys
    // its upload stream without an error, so the request's abort signal never fires), leaving
    // the socket open and, after a socket error, retrying in the background. A private agent
    // lets us end that request with an error that is never retried.
    const agent = uploadAgent(this.#storage.apiEndpoint);
    if (agent) file.interceptors.push({ request: (reqOpts) => Object.assign(reqOpts, { agent: agent.agent }) as SdkRequestOptions });
    const cancel = (err: Error): void => {
      writer.destroy(err);
      agent?.cancel();
    };
    const pacer = new UploadPacer(this.#chunkSize, this.#timeoutMs, cancel);
    writer.on('progress', (progress: { bytesWritten?: unknown }) => {
      if (typeof progress.bytesWritten === 'number') pacer.progress(progress.bytesWritten);
    });
    this.#active.add(cancel);
    try {
      const stages: Array<Readable | Transform | Writable> = size === undefined ? [body, pacer, writer] : [body, new LengthCheck(size), pacer, writer];
      await pipeline(stages, signal ? { signal } : {});
    } catch (err) {
      agent?.cancel();
      throw err;
    } finally {
      pacer.stop();
      agent?.agent.destroy();
      this.#active.delete(cancel);
    }
    return file.metadata;
  }

  /**
   * Rewrite `source` (pinned to the generation read) onto `destinationKey` with the source's
   * content headers, the given user metadata and storage class.
   */
  async #rewrite(
    sourceKey: string,
    source: FileMetadata,
    destinationKey: string,
    change: {
      storageClass: string | undefined;
      metadata: FileMetadata['metadata'];
      ifGenerationMatch?: string | number | undefined;
      signal: AbortSignal | undefined;
    },
  ): Promise<FileMetadata> {
    const destination = this.#bucket.file(destinationKey);
    // The request body is the destination's resource: send every field worth keeping.
    const resource = {
      ...pick(source, ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl']),
      ...(change.metadata ? { metadata: change.metadata } : {}),
      ...(change.storageClass ? { storageClass: change.storageClass } : {}),
    };
    const options = {
      ...resource,
      ...(change.ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch: change.ifGenerationMatch } }),
    } as CopyOptions;
    const pinned = this.#bucket.file(sourceKey, source.generation === undefined ? {} : { generation: source.generation });
    // Large rewrites across classes or locations take several calls (the SDK follows the token).
    const budget = this.#timeoutMs * Math.max(1, Math.ceil(Number(source.size ?? 0) / GiB));
    const [, response] = await this.#deadline(() => pinned.copy(destination, options), change.signal, budget);
    const result = (response as RewriteResponse | undefined)?.resource ?? (await this.#deadline(() => destination.getMetadata(), change.signal))[0];
    return this.#settle(destination, result, { ...pick(source, ['contentType']), ...(change.storageClass ? { storageClass: change.storageClass } : {}) }, change.signal);
  }

  /**
   * Checks that the object stored has the content type and storage class asked for, and sets
   * by patch what the server ignored; a value that still does not stick is an error. Real GCS
   * applies both on upload and rewrite, so this costs nothing there. fake-gcs-server ignores a
   * rewrite's storage class (fakestorage/object.go, rewriteObject: it stores STANDARD) and a
   * resumable upload's content type (sent as X-Upload-Content-Type, which it does not read).
   */
  async #settle(file: File, resource: FileMetadata, wanted: { contentType?: string; storageClass?: string }, signal: AbortSignal | undefined): Promise<FileMetadata> {
    const patch: { contentType?: string; storageClass?: string } = {};
    if (wanted.contentType !== undefined && resource.contentType !== wanted.contentType) patch.contentType = wanted.contentType;
    if (wanted.storageClass !== undefined && resource.storageClass !== wanted.storageClass) patch.storageClass = wanted.storageClass;
    if (patch.contentType === undefined && patch.storageClass === undefined) return resource;
    let patched: FileMetadata;
    try {
      // Only the generation just written: a newer object written meanwhile is left alone.
      const precondition = resource.generation === undefined ? {} : { ifGenerationMatch: resource.generation };
      [patched] = await this.#deadline(() => file.setMetadata(patch, precondition), signal);
    } catch (err) {
      if (this.#map(err, 'settle').code === 'precondition_failed') return resource;
      throw err;
    }
    for (const field of ['contentType', 'storageClass'] as const) {
      if (patch[field] !== undefined && patched[field] !== patch[field]) {
        throw new MovingDataError('unsupported', `the server kept ${field} ${String(patched[field])} instead of ${patch[field]}`);
      }
    }
    return { ...resource, ...patched };
  }

  /**
   * Streams one generation of an object (or a range of it), its CRC32C checked against the
   * stored one when the whole object is read.
   *
   * A plain GET of the media URL, authorised by the SDK (`makeAuthenticatedRequest`), on this
   * store's keep-alive agent, rather than `file.createReadStream`: the SDK's download passes
   * every chunk through four PassThrough streams (about half the CPU of a download, which on a
   * small machine is what limits it) and warns `MaxListenersExceededWarning` on every download
   * (googleapis/google-cloud-node#9185). Behind an HTTP(S) proxy, which only the SDK's transport
   * honours, the SDK's download is used.
   */
  async #download(key: string, meta: FileMetadata, range: { start: number; end: number } | undefined, signal: AbortSignal | undefined): Promise<Readable> {
    const context = this.#context('get', key);
    if (this.#downloads === undefined) {
      const file = this.#bucket.file(key, meta.generation === undefined ? {} : { generation: meta.generation });
      const source = file.createReadStream(range ? { start: range.start, end: range.end, decompress: false, validation: false } : { decompress: false, validation: 'crc32c' });
      return this.#streamBody(source, context, signal, undefined);
    }
    const response = await this.#mediaRequest(key, meta.generation, range, signal);
    // Only a whole object, received as stored, can be checked against the stored CRC32C.
    const asStored = (response.headers['x-goog-stored-content-encoding'] ?? 'identity') === (response.headers['content-encoding'] ?? 'identity');
    const crc32c = range === undefined && asStored && typeof meta.crc32c === 'string' ? meta.crc32c : undefined;
    return this.#streamBody(response, context, signal, crc32c);
  }

  /**
   * GET `alt=media` with the SDK's authorisation, retried like the SDK retries the start of a
   * download (network failures, 408, 429, 5xx) until the response headers arrive.
   */
  async #mediaRequest(key: string, generation: FileMetadata['generation'], range: { start: number; end: number } | undefined, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const downloads = this.#downloads!;
    const url = new URL(`${this.#storage.apiEndpoint.replace(/\/+$/, '')}/storage/v1/b/${encodeURIComponent(this.container)}/o/${encodeURIComponent(key)}`);
    url.searchParams.set('alt', 'media');
    if (generation !== undefined) url.searchParams.set('generation', String(generation));
    const headers: Record<string, string> = {
      // Bytes as stored: a gzip-encoded object is not decompressed on the way.
      'Accept-Encoding': 'gzip',
      'Cache-Control': 'no-store',
      'User-Agent': 'movingdata',
      ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        return await downloads.get(url, await this.#authorize(url.href, headers), this.#timeoutMs, signal);
      } catch (err) {
        const retryable = err instanceof MovingDataError ? err.retryable : isRetryable(err as ApiError);
        if (attempt >= this.#maxRetries || !retryable || signal?.aborted === true) throw err;
        await sleep(retryDelayMs(attempt), undefined, signal === undefined ? {} : { signal });
      }
    }
  }

  /** The headers the SDK would send to `url`: its credentials, none for a custom endpoint. */
  async #authorize(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
    const authorised = await new Promise<{ readonly headers?: unknown } | undefined>((resolve, reject) => {
      this.#storage.makeAuthenticatedRequest({ uri: url, headers: { ...headers } }, { onAuthenticated: (err, options) => (err ? reject(err) : resolve(options)) });
    });
    const out: Record<string, string> = {};
    const given = authorised?.headers ?? headers;
    // google-auth-library hands back a WHATWG Headers object; a custom endpoint the plain record.
    const entries = given instanceof Headers ? [...given.entries()] : Object.entries(given as Record<string, unknown>);
    for (const [name, value] of entries) {
      if (typeof value === 'string' || typeof value === 'number') out[name] = String(value);
    }
    return out;
  }

  /** The download's body: errors mapped, early stops releasing the request, stalls failed, CRC32C checked. */
  #streamBody(source: Readable, context: StorageErrorContext, signal: AbortSignal | undefined, crc32c: string | undefined): Readable {
    const body = new DownloadBody(this.#timeoutMs, crc32c, (err) => mapGcsError(err, context));
    source.on('error', (err) => body.destroy(mapGcsError(err, context)));
    source.pipe(body);
    const onAbort = (): void => {
      body.destroy(mapGcsError(abortError(signal?.reason), context));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const cancel = (err: Error): void => {
      body.destroy(err);
    };
    this.#active.add(cancel);
    body.once('close', () => {
      this.#active.delete(cancel);
      signal?.removeEventListener('abort', onAbort);
      if (!source.destroyed) source.destroy();
    });
    return body;
  }

  async #bucketExists(): Promise<boolean> {
    try {
      await this.#deadline(() => this.#bucket.getFiles({ maxResults: 1, autoPaginate: false, fields: 'nextPageToken' }));
      return true;
    } catch (err) {
      if (this.#map(err, 'ensureContainer').code === 'not_found') return false;
      throw err;
    }
  }

  /**
   * Runs one SDK call under a deadline and the caller's signal. The call itself cannot be
   * cancelled (the SDK takes no signal); it is abandoned and settles in the background.
   */
  async #deadline<T>(call: () => Promise<T>, signal?: AbortSignal, ms: number = this.#timeoutMs): Promise<T> {
    if (signal?.aborted) throw abortError(signal.reason);
    const pending = call();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MovingDataError('unavailable', `no answer within ${ms} ms`, { retryable: true })), ms);
      onAbort = () => reject(abortError(signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    pending.catch(() => undefined); // abandoned calls must not become unhandled rejections
    try {
      return await Promise.race([pending, stop]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  #checkTier(tier: string): string {
    if (!this.#tiers.some((t) => t.name === tier)) {
      throw new MovingDataError('invalid_argument', `unknown storage class '${tier}'; this store has ${this.#tiers.map((t) => t.name).join(', ')}`);
    }
    return tier;
  }

  #context(operation: string, key?: string): StorageErrorContext {
    return { provider: 'gcs', location: this.location, operation, ...(key === undefined ? {} : { key }) };
  }

  #map(err: unknown, operation: string, key?: string): StorageError {
    return mapGcsError(err, this.#context(operation, key));
  }

  async #run<T>(operation: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#map(err, operation, key);
    }
  }
}

/** Fails the stream as soon as it carries more than `size` bytes, or ends with fewer. */
class LengthCheck extends Transform {
  readonly #size: number;
  #seen = 0;

  constructor(size: number) {
    super();
    this.#size = size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#size) callback(lengthMismatch(this.#size, this.#seen, false));
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.#seen === this.#size ? null : lengthMismatch(this.#size, this.#seen, true));
  }
}

/**
 * Sits in front of the SDK's resumable upload stream, which reports as `progress` the bytes it
 * has put into requests. The pacer holds the source back while more than a window of bytes has
 * not been put into a request yet (in chunked mode the SDK acknowledges each write before the
 * bytes are consumed, so nothing else limits its buffer), and fails the upload when the SDK has
 * a chunk's worth of bytes waiting, or has had the whole body, without progress for `idleMs`:
 * the server stopped reading or answering.
 */
class UploadPacer extends Transform {
  readonly #window: number;
  readonly #waiting: number;
  readonly #idleMs: number;
  readonly #onStall: (err: Error) => void;
  readonly #timer: NodeJS.Timeout;
  #admitted = 0;
  #sent = 0;
  #sinceYield = 0;
  #since = Date.now();
  #ended = false;
  #held: TransformCallback | undefined;

  constructor(chunkSize: number | undefined, idleMs: number, onStall: (err: Error) => void) {
    // Kept alive after the body ends: the wait for the server's final answer is watched too.
    super({ autoDestroy: false });
    // The SDK must be able to hold a full chunk plus the start of the next (to know whether the
    // chunk is the last) before it sends anything; a streaming request takes bytes as they come.
    this.#window = chunkSize === undefined ? 8 * MiB : 2 * chunkSize + MiB;
    this.#waiting = chunkSize ?? 1;
    this.#idleMs = idleMs;
    this.#onStall = onStall;
    this.#timer = setInterval(() => this.#check(), Math.max(10, Math.min(1000, idleMs / 4)));
    this.#timer.unref();
  }

  /** The SDK has put `bytesWritten` bytes into requests (it rewinds on a retry). */
  progress(bytesWritten: number): void {
    if (bytesWritten > this.#sent) {
      this.#sent = bytesWritten;
      this.#since = Date.now();
    }
    if (this.#held !== undefined && this.#admitted - this.#sent <= this.#window) {
      const release = this.#held;
      this.#held = undefined;
      release();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#admitted - this.#sent < this.#waiting) this.#since = Date.now();
    this.#admitted += chunk.length;
    this.#sinceYield += chunk.length;
    this.push(chunk);
    if (this.#admitted - this.#sent > this.#window) {
      this.#held = callback;
    } else if (this.#sinceYield >= YIELD_EVERY) {
      // Against a fast peer (loopback) every socket write completes at once and the stream
      // machinery never returns to the event loop: timers and other requests would starve.
      this.#sinceYield = 0;
      setImmediate(callback);
    } else {
      callback();
    }
  }

  override _flush(callback: TransformCallback): void {
    this.#ended = true;
    this.#since = Date.now();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stop();
    callback(err);
  }

  #check(): void {
    const waiting = this.#ended || this.#admitted - this.#sent >= this.#waiting;
    if (!waiting || Date.now() - this.#since <= this.#idleMs) return;
    this.stop();
    const what = this.#ended ? 'no answer to the end of the upload' : 'the upload stopped moving';
    this.#onStall(new MovingDataError('unavailable', `${what} for ${this.#idleMs} ms`, { retryable: true }));
  }
}

/**
 * The body of a download: fails it when the reader is waiting for bytes and none have come for
 * `idleMs` (a reader that does not read is not waiting, however long it takes), and, given the
 * stored CRC32C, fails it at the end when the bytes received do not match.
 */
class DownloadBody extends Transform {
  readonly #idleMs: number;
  readonly #expected: string | undefined;
  readonly #crc32c: Crc32c | undefined;
  readonly #mapError: (err: unknown) => Error;
  readonly #timer: NodeJS.Timeout;
  #waitingSince: number | undefined;

  constructor(idleMs: number, crc32c: string | undefined, mapError: (err: unknown) => Error) {
    super();
    this.#idleMs = idleMs;
    this.#expected = crc32c;
    this.#crc32c = crc32c === undefined ? undefined : new Crc32c();
    this.#mapError = mapError;
    this.#timer = setInterval(() => this.#check(), Math.max(10, Math.min(1000, idleMs / 4)));
    this.#timer.unref();
  }

  override _read(size: number): void {
    this.#waitingSince ??= Date.now();
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#waitingSince = undefined;
    this.#crc32c?.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    clearInterval(this.#timer);
    if (this.#crc32c !== undefined && !this.#crc32c.validate(this.#expected!)) {
      callback(this.#mapError(new MovingDataError('checksum_mismatch', `the bytes received have CRC32C ${this.#crc32c.toString()}, the object has ${this.#expected}`)));
      return;
    }
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearInterval(this.#timer);
    callback(err);
  }

  #check(): void {
    if (this.#waitingSince === undefined || this.readableLength > 0 || Date.now() - this.#waitingSince <= this.#idleMs) return;
    clearInterval(this.#timer);
    this.destroy(this.#mapError(new MovingDataError('unavailable', `the download stopped moving for ${this.#idleMs} ms`, { retryable: true })));
  }
}

/**
 * Media downloads on a keep-alive agent of the store's own, whose sockets close() destroys.
 */
class MediaDownloads {
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;

  constructor(endpoint: string) {
    const secure = endpoint.startsWith('https:');
    this.#agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#request = secure ? httpsRequest : httpRequest;
  }

  /**
   * The response once its headers are in, when it is 200 or 206; otherwise the API's error. The
   * request is abandoned (its socket destroyed) when `signal` aborts or no headers came within
   * `timeoutMs`.
   */
  get(url: URL, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const request = this.#request(url, { agent: this.#agent, headers }, (response) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const status = response.statusCode ?? 0;
        if (status === 200 || status === 206) {
          resolve(response);
          return;
        }
        void errorBody(response).then((text) => reject(apiError(status, text)), reject);
      });
      const onAbort = (): void => {
        request.destroy(abortError(signal?.reason));
      };
      const timer = setTimeout(() => request.destroy(new MovingDataError('unavailable', `no answer within ${timeoutMs} ms`, { retryable: true })), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      request.once('error', (err) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      request.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The start of an error response (enough for its message). */
async function errorBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (length < 16 * KiB) chunks.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, 16 * KiB);
}

/** An error in the shape of the SDK's ApiError (numeric `code`, `errors[]`), for mapGcsError. */
function apiError(status: number, text: string): Error {
  let message = text.trim() || `HTTP ${status}`;
  let errors: unknown[] = [];
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; errors?: unknown } };
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    if (Array.isArray(parsed.error?.errors)) errors = parsed.error.errors;
  } catch {
    // not JSON: the text is the message
  }
  return Object.assign(new Error(message), { code: status, errors });
}

/** Exponential back-off with jitter, as the SDK's retries (1 s, 2 s, 4 s, ... up to 16 s). */
function retryDelayMs(attempt: number): number {
  return Math.min(2 ** attempt * 1000, 16_000) + Math.random() * 1000;
}

/** Bytes an upload may move before it lets the event loop run. */
const YIELD_EVERY = MiB;

/** Code of the error a cancelled upload's sockets are destroyed with; never retried. */
const UPLOAD_CANCELLED = 'MOVINGDATA_UPLOAD_CANCELLED';

/**
 * A keep-alive agent of one resumable upload, whose sockets can be destroyed. Undefined when a
 * proxy is configured: the SDK's transport (gaxios) only proxies requests that bring no agent.
 */
function uploadAgent(endpoint: string): { agent: HttpAgent; cancel(): void } | undefined {
  if (proxyConfigured()) return undefined;
  const agent = endpoint.startsWith('http:') ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true });
  return {
    agent,
    cancel() {
      const error = Object.assign(new Error('upload cancelled'), { code: UPLOAD_CANCELLED });
      for (const sockets of [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)]) {
        for (const socket of sockets ?? []) socket.destroy(error);
      }
      agent.destroy();
    },
  };
}

function proxyConfigured(): boolean {
  const env = process.env;
  return Boolean(env['HTTPS_PROXY'] || env['https_proxy'] || env['HTTP_PROXY'] || env['http_proxy']);
}

function lengthMismatch(announced: number, seen: number, ended: boolean): MovingDataError {
  const actual = ended ? `${seen} bytes` : `more than ${announced} bytes`;
  return new MovingDataError('invalid_argument', `body was ${actual}, ${announced} were announced`);
}

/** Reads chunks until more than `limit` bytes have arrived or the body ends. */
async function takeUpTo(iterator: AsyncIterator<unknown>, limit: number): Promise<{ chunks: Buffer[]; bytes: number; done: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const next = await iterator.next();
    if (next.done) return { chunks, bytes, done: true };
    const chunk = toBuffer(next.value);
    chunks.push(chunk);
    bytes += chunk.length;
  }
  return { chunks, bytes, done: false };
}

/** The chunks already read, then the rest of the body. */
async function* replay(chunks: Buffer[], iterator: AsyncIterator<unknown>): AsyncGenerator<Buffer> {
  while (chunks.length > 0) yield chunks.shift()!;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield toBuffer(next.value);
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new MovingDataError('invalid_argument', 'body must be a byte stream');
}

/** Names GCS itself refuses (https://cloud.google.com/storage/docs/objects#naming). */
export function gcsKeyProblem(key: string): string | undefined {
  if (key === '.' || key === '..' || key.startsWith('.well-known/acme-challenge/')) return `GCS does not accept the object name '${key}' (reserved)`;
  return undefined;
}


function isRetryable(err: ApiError): boolean {
  if (hasCode(err, UPLOAD_CANCELLED)) return false;
  if (RETRYABLE_ERR_FN_DEFAULT(err) || isNetworkError(err)) return true;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return name === 'TimeoutError' || code === 'TimeoutError';
}

function hasCode(err: unknown, code: string): boolean {
  for (let current = err, depth = 0; current !== null && typeof current === 'object' && depth < 8; depth++) {
    if ((current as { code?: unknown }).code === code) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function abortError(reason: unknown): Error {
  return Object.assign(new Error('aborted'), { name: 'AbortError', cause: reason });
}

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new MovingDataError('config_invalid', `GCS option ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function tierSpecs(names: readonly string[]): readonly TierSpec[] {
  if (names.length === 0) throw new MovingDataError('config_invalid', 'GCS option storageClasses must name at least one class');
  return Object.freeze(
    names.map((name) => {
      const temperature = CLASS_TEMPERATURE[name];
      if (temperature === undefined) {
        throw new MovingDataError('config_invalid', `unknown GCS storage class '${name}'; known: ${Object.keys(CLASS_TEMPERATURE).join(', ')}`);
      }
      return Object.freeze({ name, class: temperature });
    }),
  );
}

function lowercaseKeys(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) out[name.toLowerCase()] = value;
  return out;
}

function pick(source: FileMetadata, fields: ReadonlyArray<'contentType' | 'contentEncoding' | 'contentDisposition' | 'contentLanguage' | 'cacheControl'>): Partial<FileMetadata> {
  const out: Partial<FileMetadata> = {};
  for (const field of fields) if (typeof source[field] === 'string' && source[field] !== '') out[field] = source[field];
  return out;
}

/** GCS sends MD5 and CRC32C base64-encoded (CRC32C as 4 big-endian bytes); the port wants hex. */
function checksumsOf(meta: FileMetadata): Checksums {
  const checksums: { md5?: string; crc32c?: string } = {};
  // Composite objects have no MD5: only report what describes the whole object.
  const md5 = typeof meta.md5Hash === 'string' ? Buffer.from(meta.md5Hash, 'base64') : undefined;
  if (md5?.length === 16) checksums.md5 = md5.toString('hex');
  const crc32c = typeof meta.crc32c === 'string' ? Buffer.from(meta.crc32c, 'base64') : undefined;
  if (crc32c?.length === 4) checksums.crc32c = crc32c.toString('hex');
  return checksums;
}

function userMetadata(meta: FileMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(meta.metadata ?? {})) {
    if (value !== null && value !== undefined) out[name.toLowerCase()] = String(value);
  }
  return out;
}

function toListed(meta: FileMetadata): ListedObject {
  return {
    key: meta.name ?? '',
    size: Number(meta.size ?? 0),
    ...(meta.etag ? { etag: meta.etag } : {}),
    ...(meta.updated ? { lastModified: new Date(meta.updated) } : {}),
    ...(meta.storageClass ? { tier: meta.storageClass } : {}),
    checksums: checksumsOf(meta),
  };
}

function toInfo(key: string, meta: FileMetadata): ObjectInfo {
  return {
    ...toListed(meta),
    key,
    ...(meta.contentType ? { contentType: meta.contentType } : {}),
    metadata: userMetadata(meta),
  };
}
