/**
 * Azure Blob Storage adapter (block blobs), on the official `@azure/storage-blob` SDK.
 *
 * Credentials come from configuration alone: an account key (Shared Key), a SAS token, or a
 * connection string carrying either. Entra ID (managed identity, workload identity, az login)
 * would be a `TokenCredential` from `@azure/identity` handed to `newPipeline`; it is not wired
 * here because the project does not depend on that package yet.
 *
 * What this adapter does that the SDK does not do for us:
 * - Uploads: its own block upload (Put Block per block, bounded concurrency, then Put Block
 *   List) instead of `uploadStream`, so the whole-object MD5 computed while streaming is set as
 *   the blob's Content-MD5 at commit. Every block carries its own transactional MD5, which the
 *   service checks. Memory is about blockSize × (concurrency + 1). Nothing is committed unless
 *   every byte arrived and the length matches the announced size; staged blocks that are never
 *   committed are invisible and the service discards them.
 * - Names: keys are mapped to blob names that Azure cannot rewrite (see `toBlobName`), and the
 *   name goes on the wire fully percent-encoded, `/` included (as the Go SDK does), because
 *   WHATWG URL parsing in the SDK drops `.` and `..` path segments before a request is sent.
 * - Metadata names: Azure accepts only C#-identifier names (no `-`), so other characters are
 *   escaped (see `toMetadataName`).
 * - Listings: List Blobs goes through the client's pipeline but its answer is parsed in
 *   list-blobs.ts, not by the SDK's generic deserializer (measured: a third of the CPU).
 * - Timeouts: the SDK's `tryTimeoutInMs` is only a server-side hint; a transport policy gives
 *   every try a client-side deadline (until the response headers) and its own socket pool,
 *   which `close()` destroys.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { addAbortSignal, PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AnonymousCredential,
  BlockBlobClient,
  ContainerClient,
  newPipeline,
  StorageSharedKeyCredential,
  type BlobDownloadResponseParsed,
  type Pipeline,
  type RequestPolicyFactory,
} from '@azure/storage-blob';
import { MovingDataError } from '../../errors.ts';
import { isStorageError, StorageError, type StorageErrorContext } from '../errors.ts';
import { assertStorableKey } from '../keys.ts';
import { bareEtag } from '../etag.ts';
import type {
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
import { listBlobs, listSender } from './list-blobs.ts';
import { azureStatus, toAzureStorageError } from './map-error.ts';

export interface AzureBlobStoreOptions {
  /** Location name this store serves, e.g. `azure-weu`. */
  readonly location: string;
  readonly container: string;
  /**
   * Blob service endpoint: `https://<account>.blob.core.windows.net` or, for Azurite,
   * `http://127.0.0.1:10000/devstoreaccount1`. Required unless the connection string has one.
   */
  readonly accountUrl?: string;
  /** Defaults to the account in `accountUrl` (host or, path-style, first path segment). */
  readonly accountName?: string;
  /** Shared Key (base64). */
  readonly accountKey?: string;
  /** `DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...` or with `SharedAccessSignature=`/`BlobEndpoint=`. */
  readonly connectionString?: string;
  /** Account or container SAS, with or without the leading `?`. */
  readonly sasToken?: string;
  /** Block size for uploads above it, and the largest single-request put (default 8 MiB). */
  readonly blockSize?: number;
  /** Blocks in flight per upload (default 4). */
  readonly concurrency?: number;
  /** Tries per request, including the first (default 4); download bodies resume maxTries - 1 times. */
  readonly maxTries?: number;
  /** Base of the exponential back-off between tries (default 4 s, the SDK's). */
  readonly retryDelayMs?: number;
  /** Deadline of one try until the response headers arrive, upload body included (default 120 s). */
  readonly tryTimeoutMs?: number;
  /** Tiers the account offers, default first (default Hot, Cool, Cold, Archive; premium accounts have none). */
  readonly tiers?: readonly TierSpec[];
}

const KiB = 1024;
const MiB = 1024 * KiB;
const DEFAULT_BLOCK_SIZE = 8 * MiB;
const DEFAULT_CONCURRENCY = 4;
const DEFAULT_MAX_TRIES = 4;
const DEFAULT_RETRY_DELAY_MS = 4_000;
const DEFAULT_TRY_TIMEOUT_MS = 120_000;
/** Service limits for block blobs (API 2019-12-12 and later). */
const MAX_BLOCKS = 50_000;
const MAX_BLOCK_SIZE = 4000 * MiB;
const MIN_BLOCK_SIZE = 64 * KiB;
/** A page unless the caller asks otherwise (what S3 and GCS give at most, so callers see one size). */
const DEFAULT_PAGE = 1000;
/**
 * List Blobs' own maximum (maxresults), which rclone asks for too (--azureblob-list-chunk): a
 * caller listing everything (listSharded) asks for this and makes a fifth of the requests.
 */
const MAX_PAGE = 5000;
const COPY_POLL_INTERVAL_MS = 500;
const COPY_DEADLINE_MS = 30 * 60_000;

export const AZURE_TIERS: readonly TierSpec[] = [
  { name: 'Hot', class: 'hot' },
  { name: 'Cool', class: 'cool' },
  { name: 'Cold', class: 'cold' },
  { name: 'Archive', class: 'archive', offline: true },
];

export class AzureBlobStore implements ObjectStore {
  readonly provider = 'azure' as const;
  readonly location: string;
  readonly container: string;
  readonly features: StoreFeatures;
  /** Present when the account has tiers (features.tiers is not empty). */
  readonly setTier?: (key: string, tier: string, signal?: AbortSignal) => Promise<void>;

  readonly #client: ContainerClient;
  /** Sends List Blobs through the client's pipeline; the answer is parsed by list-blobs.ts. */
  readonly #lister: ReturnType<typeof listSender>;
  readonly #pipeline: Pipeline;
  readonly #agent: HttpAgent;
  readonly #blockSize: number;
  readonly #concurrency: number;
  readonly #maxTries: number;
  readonly #tiers: readonly TierSpec[];
  readonly #sas: boolean;

  constructor(options: AzureBlobStoreOptions) {
    this.location = options.location;
    this.container = options.container;
    const problem = (message: string) => new MovingDataError('config_invalid', `azure store '${options.location}': ${message}`, { retryable: false });

    this.#blockSize = integerIn(options.blockSize ?? DEFAULT_BLOCK_SIZE, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE, 'blockSize', problem);
    this.#concurrency = integerIn(options.concurrency ?? DEFAULT_CONCURRENCY, 1, 64, 'concurrency', problem);
    this.#maxTries = integerIn(options.maxTries ?? DEFAULT_MAX_TRIES, 1, 20, 'maxTries', problem);
    const retryDelayMs = integerIn(options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, 0, 120_000, 'retryDelayMs', problem);
    const tryTimeoutMs = integerIn(options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS, 100, 3_600_000, 'tryTimeoutMs', problem);
    this.#tiers = Object.freeze([...(options.tiers ?? AZURE_TIERS)]);

    const access = resolveAccess(options, problem);
    this.#sas = access.sasToken !== undefined;
    const containerUrl = new URL(access.accountUrl);
    containerUrl.pathname = `${containerUrl.pathname.replace(/\/+$/, '')}/${encodeURIComponent(options.container)}`;
    if (access.sasToken !== undefined) containerUrl.search = access.sasToken.replace(/^\?/, '');

    this.#agent = containerUrl.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#pipeline = newPipeline(access.credential, {
      retryOptions: { maxTries: this.#maxTries, retryDelayInMs: retryDelayMs, maxRetryDelayInMs: Math.max(retryDelayMs, 30_000) },
      userAgentOptions: { userAgentPrefix: 'MovingData' },
    });
    this.#pipeline.factories.push(transportPolicy(this.#agent, tryTimeoutMs));
    this.#client = new ContainerClient(containerUrl.toString(), this.#pipeline);
    this.#lister = listSender(this.#client);

    this.features = Object.freeze({
      copy: true,
      tiers: this.#tiers,
      checksums: ['md5'] as const,
      multipartThreshold: this.#blockSize,
      listOrder: 'utf16',
    });
    if (this.#tiers.length > 0) {
      this.setTier = (key, tier, signal) =>
        this.#run('setTier', key, signal, async () => {
          assertStorableKey(key);
          const name = this.#tierName(tier);
          await this.#blob(key).setAccessTier(name, { abortSignal: signal });
        });
    }
  }

  async ensureContainer(): Promise<void> {
    await this.#run('ensureContainer', undefined, undefined, async () => {
      try {
        await this.#client.createIfNotExists();
      } catch (err) {
        // A container-scoped SAS may not create containers; one that exists is all we need.
        if (!this.#sas || azureStatus(err) !== 403) throw err;
        await this.#probe(undefined);
      }
    });
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.#run('ping', undefined, signal, () => this.#probe(signal));
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    return this.#run('put', key, options.signal, async () => {
      let plan: UploadPlan;
      try {
        assertStorableKey(key);
        if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
          throw new MovingDataError('invalid_argument', `size must be a non-negative integer, got ${options.size}`);
        }
        plan = {
          size: options.size,
          blockSize: this.#blockSizeFor(options.size),
          contentType: options.contentType,
          metadata: options.metadata === undefined ? undefined : toAzureMetadata(options.metadata),
          tier: options.tier === undefined ? undefined : this.#tierName(options.tier),
          signal: options.signal,
        };
        if (options.signal !== undefined) addAbortSignal(options.signal, body);
      } catch (err) {
        body.destroy();
        throw err;
      }
      return this.#upload(key, body, plan);
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const context = this.#context('get', key);
    return this.#run('get', key, options.signal, async () => {
      assertStorableKey(key);
      const range = options.range;
      if (range !== undefined) checkRange(range);
      const count = range?.end === undefined ? undefined : range.end - range.start + 1;
      // maxRetryRequests bounds how often the SDK's reader resumes a broken body (with If-Match
      // on the ETag, so a resumed body never mixes two versions).
      const response = await this.#blob(key).download(range?.start ?? 0, count, {
        abortSignal: options.signal,
        maxRetryRequests: this.#maxTries - 1,
      });
      const source = response.readableStreamBody as Readable | undefined;
      const length = response.contentLength ?? 0;
      const size = totalSize(response) ?? length;
      if (range !== undefined && range.start >= size) {
        // Azure answers 416 here; Azurite serves an empty 206 ("bytes 11-10/11").
        source?.destroy();
        throw new MovingDataError('range_not_satisfiable', `range starts at ${range.start}, the object has ${size} bytes`);
      }
      const info = toInfo(key, {
        size,
        etag: response.etag,
        lastModified: response.lastModified,
        tier: response.accessTier,
        contentType: response.contentType,
        // A full read carries the blob's Content-MD5; a ranged read its x-ms-blob-content-md5.
        md5: range === undefined ? (response.contentMD5 ?? response.blobContentMD5) : response.blobContentMD5,
        metadata: response.metadata,
      });
      const body = source === undefined ? Readable.from([]) : guardBody(source, (err) => bodyError(err, context, options.signal));
      if (range === undefined) return { body, info };
      return { body, info, range: { start: range.start, end: range.start + length - 1 } };
    });
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return this.#run('head', key, signal, async () => {
      assertStorableKey(key);
      const props = await this.#blob(key).getProperties({ abortSignal: signal });
      return toInfo(key, {
        size: props.contentLength ?? 0,
        etag: props.etag,
        lastModified: props.lastModified,
        tier: props.accessTier,
        contentType: props.contentType,
        md5: props.contentMD5,
        metadata: props.metadata,
      });
    });
  }

  /**
   * Blobs that crashed writes left with staged blocks and nothing committed (the service bills
   * them for 7 days before it drops them). Committing an empty block list discards the staged
   * blocks, then the empty blob goes. Both steps are conditional, so a writer that commits the
   * same name meanwhile keeps its blob: the commit only applies while nothing is committed
   * (If-None-Match: *), and the delete only removes our empty blob (If-Match its ETag).
   */
  async cleanupIncomplete(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    return this.#run('cleanup', undefined, signal, async () => {
      let removed = 0;
      for await (const item of this.#client.listBlobsFlat({ includeUncommitedBlobs: true, abortSignal: signal })) {
        if ((item.properties.contentLength ?? 0) !== 0) continue;
        const modified = item.properties.lastModified;
        if (modified !== undefined && Date.now() - modified.getTime() < olderThanMs) continue;
        const blob = this.#blobNamed(item.name);
        const blocks = await blob.getBlockList('all', { abortSignal: signal }).catch(() => undefined);
        if (blocks === undefined || (blocks.committedBlocks?.length ?? 0) > 0 || (blocks.uncommittedBlocks?.length ?? 0) === 0) continue;
        try {
          const emptied = await blob.commitBlockList([], { conditions: { ifNoneMatch: '*' }, abortSignal: signal });
          await blob.delete({ conditions: emptied.etag === undefined ? {} : { ifMatch: emptied.etag }, abortSignal: signal });
          removed += 1;
        } catch {
          // Committed by a writer meanwhile, or already gone: not ours to remove.
        }
      }
      return removed;
    });
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.#run('delete', key, signal, async () => {
      assertStorableKey(key);
      await this.#blob(key).deleteIfExists({ deleteSnapshots: 'include', abortSignal: signal });
    });
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    return this.#run('list', undefined, options.signal, async () => {
      const requested = options.limit !== undefined && Number.isFinite(options.limit) ? Math.trunc(options.limit) : DEFAULT_PAGE;
      const limit = Math.max(1, Math.min(requested, MAX_PAGE));
      const blobPrefix = toBlobPrefix(prefix);
      const page = await listBlobs(this.#lister, this.#client.url, {
        prefix: blobPrefix,
        maxResults: limit,
        // Key segments map to blob-name segments one to one (toBlobName), so `/` delimits both.
        ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }),
        ...(options.cursor === undefined ? {} : { marker: options.cursor }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      const prefixes: string[] = [];
      for (const name of page.prefixes) {
        const keyPrefix = fromBlobName(name);
        if (keyPrefix.startsWith(prefix)) prefixes.push(keyPrefix);
      }
      const items: ListedObject[] = [];
      for (const blob of page.blobs) {
        const key = fromBlobName(blob.name);
        // The blob prefix can be shorter than the key prefix (see toBlobPrefix).
        if (!key.startsWith(prefix)) continue;
        items.push({
          key,
          size: blob.size,
          etag: bareEtag(blob.etag),
          ...(blob.lastModified === undefined ? {} : { lastModified: blob.lastModified }),
          ...(blob.accessTier === undefined ? {} : { tier: blob.accessTier }),
          checksums: checksumsOf(blob.contentMD5),
        });
      }
      const result = prefixes.length === 0 ? { items } : { items, prefixes };
      return page.nextMarker === undefined ? result : { ...result, nextCursor: page.nextMarker };
    });
  }

  async copy(sourceKey: string, destinationKey: string, options: CopyOptions = {}): Promise<ObjectInfo> {
    return this.#run('copy', sourceKey, options.signal, async () => {
      assertStorableKey(sourceKey);
      assertStorableKey(destinationKey);
      const tier = options.tier === undefined ? undefined : this.#tierName(options.tier);
      const target = this.#blob(destinationKey);
      // Copy Blob, not Copy Blob From URL: within one account Shared Key authorizes the source,
      // while the synchronous variant needs a SAS or OAuth on the source even there. Same-account
      // copies usually finish in the first response; a pending one is polled, within a deadline.
      const deadline = AbortSignal.timeout(COPY_DEADLINE_MS);
      const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
      const poller = await target.beginCopyFromURL(this.#blob(sourceKey).url, {
        ...(options.metadata === undefined ? {} : { metadata: toAzureMetadata(options.metadata) }),
        ...(tier === undefined ? {} : { tier }),
        intervalInMs: COPY_POLL_INTERVAL_MS,
        abortSignal: options.signal,
      });
      try {
        while (!poller.isDone()) {
          await sleep(COPY_POLL_INTERVAL_MS, undefined, { signal });
          await poller.poll({ abortSignal: signal });
        }
      } catch (err) {
        if (!poller.isDone()) await poller.cancelOperation().catch(() => undefined);
        if (deadline.aborted) throw new MovingDataError('unavailable', `copy did not finish within ${COPY_DEADLINE_MS / 60_000} minutes`, { cause: err });
        if (err instanceof Error && err.message.startsWith('Blob copy failed')) throw new MovingDataError('unavailable', err.message, { cause: err });
        throw err;
      }
      return this.head(destinationKey, options.signal);
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }

  // --- uploads ---------------------------------------------------------------------------------

  async #upload(key: string, body: Readable, plan: UploadPlan): Promise<PutResult> {
    const blob = this.#blob(key);
    const reader = new BlockReader(body, plan.size);
    const whole = createHash('md5');
    try {
      // A body that fits one block (or is announced to) goes in a single Put Blob.
      const { data: first, last } = await reader.readUpTo(plan.size !== undefined && plan.size <= plan.blockSize ? plan.size : plan.blockSize);
      if (last) {
        reader.assertComplete();
        const length = first.length;
        const md5 = createHash('md5').update(first).digest();
        const response = await blob.upload(first, length, {
          transactionalContentMD5: md5,
          blobHTTPHeaders: { blobContentMD5: md5, ...(plan.contentType === undefined ? {} : { blobContentType: plan.contentType }) },
          ...this.#writeOptions(plan),
        });
        return { key, size: length, ...(response.etag === undefined ? {} : { etag: bareEtag(response.etag) }), checksums: { md5: md5.toString('hex') }, ...(plan.tier === undefined ? {} : { tier: plan.tier }) };
      }
      whole.update(first);
      const ids = await this.#stageBlocks(blob, reader, first, whole, plan);
      reader.assertComplete();
      const md5 = whole.digest();
      const response = await blob.commitBlockList(ids, {
        blobHTTPHeaders: { blobContentMD5: md5, ...(plan.contentType === undefined ? {} : { blobContentType: plan.contentType }) },
        ...this.#writeOptions(plan),
      });
      return { key, size: reader.total, ...(response.etag === undefined ? {} : { etag: bareEtag(response.etag) }), checksums: { md5: md5.toString('hex') }, ...(plan.tier === undefined ? {} : { tier: plan.tier }) };
    } catch (err) {
      await reader.discard();
      throw err;
    }
  }

  /**
   * Stages `first` and every following block with at most `concurrency` requests in flight,
   * reusing block buffers once their request has finished. Returns the block ids in order.
   */
  async #stageBlocks(blob: BlockBlobClient, reader: BlockReader, first: Buffer, whole: ReturnType<typeof createHash>, plan: UploadPlan): Promise<string[]> {
    const uploadId = randomBytes(8).toString('hex');
    const ids: string[] = [];
    const spare: Buffer[] = [];
    const inFlight = new Set<Promise<void>>();
    const stop = new AbortController();
    const signal = plan.signal === undefined ? stop.signal : AbortSignal.any([plan.signal, stop.signal]);
    // Written by the block requests' callbacks, read by the loop.
    const outcome: { failure?: { error: unknown } } = {};
    const throwIfFailed = () => {
      if (outcome.failure !== undefined) throw outcome.failure.error;
    };

    const stage = (buffer: Buffer, length: number) => {
      if (ids.length === MAX_BLOCKS) {
        throw new MovingDataError('too_large', `more than ${MAX_BLOCKS} blocks of ${plan.blockSize} bytes; announce the size or raise blockSize`);
      }
      // Fixed-length ids: Azure rejects blocks of one blob whose ids differ in length.
      const id = Buffer.from(`md-${uploadId}-${String(ids.length).padStart(6, '0')}`).toString('base64');
      ids.push(id);
      const data = buffer.subarray(0, length);
      const task = blob
        .stageBlock(id, data, length, { transactionalContentMD5: createHash('md5').update(data).digest(), abortSignal: signal })
        .then(
          () => {
            spare.push(buffer);
          },
          (error: unknown) => {
            outcome.failure ??= { error };
            stop.abort();
          },
        )
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
    };

    try {
      stage(first, first.length);
      for (;;) {
        while (inFlight.size >= this.#concurrency && outcome.failure === undefined) await Promise.race(inFlight);
        throwIfFailed();
        const buffer = spare.pop() ?? Buffer.allocUnsafe(plan.blockSize);
        const { length, last } = await reader.read(buffer);
        if (length > 0) {
          whole.update(buffer.subarray(0, length));
          stage(buffer, length);
        }
        if (last) break;
      }
      await Promise.all(inFlight);
      throwIfFailed();
      return ids;
    } catch (err) {
      // Stop the other blocks and wait for them, so no request outlives a failed put.
      stop.abort();
      await Promise.allSettled(inFlight);
      throw err;
    }
  }

  #writeOptions(plan: UploadPlan) {
    return {
      ...(plan.metadata === undefined ? {} : { metadata: plan.metadata }),
      ...(plan.tier === undefined ? {} : { tier: plan.tier }),
      abortSignal: plan.signal,
    };
  }

  /** The configured block size, raised when an announced size would need more than 50,000 blocks. */
  #blockSizeFor(size: number | undefined): number {
    if (size === undefined || size <= this.#blockSize * MAX_BLOCKS) return this.#blockSize;
    const needed = Math.ceil(size / MAX_BLOCKS / MiB) * MiB;
    if (needed > MAX_BLOCK_SIZE) throw new MovingDataError('too_large', `${size} bytes exceed the block blob limit`);
    return needed;
  }

  // --- internals -------------------------------------------------------------------------------

  /**
   * Get Container Properties; with a SAS a one-item listing instead, because a container SAS
   * cannot read container properties (both answer 404 ContainerNotFound when it is missing).
   */
  async #probe(signal: AbortSignal | undefined): Promise<void> {
    if (!this.#sas) {
      await this.#client.getProperties({ abortSignal: signal });
      return;
    }
    await this.#client.listBlobsFlat({ abortSignal: signal }).byPage({ maxPageSize: 1 }).next();
  }

  #blob(key: string): BlockBlobClient {
    return this.#blobNamed(toBlobName(key));
  }

  #blobNamed(name: string): BlockBlobClient {
    const url = new URL(this.#client.url);
    url.pathname = `${url.pathname}/${encodeURIComponent(name)}`;
    return new BlockBlobClient(url.toString(), this.#pipeline);
  }

  #tierName(tier: string): string {
    const found = this.#tiers.find((t) => t.name.toLowerCase() === tier.toLowerCase());
    if (found === undefined) {
      const known = this.#tiers.length === 0 ? 'none (this account has no tiers)' : this.#tiers.map((t) => t.name).join(', ');
      throw new MovingDataError('invalid_argument', `unknown tier '${tier}'; this store has ${known}`);
    }
    return found.name;
  }

  #context(operation: string, key: string | undefined): StorageErrorContext {
    return { provider: 'azure', location: this.location, operation, ...(key === undefined ? {} : { key }) };
  }

  async #run<T>(operation: string, key: string | undefined, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toAzureStorageError(err, this.#context(operation, key), signal);
    }
  }
}

interface UploadPlan {
  readonly size: number | undefined;
  readonly blockSize: number;
  readonly contentType: string | undefined;
  readonly metadata: Record<string, string> | undefined;
  readonly tier: string | undefined;
  readonly signal: AbortSignal | undefined;
}

/**
 * Pulls a body into caller-provided block buffers. It reads one chunk past a full block to
 * learn whether that block was the last, and fails as soon as the body outgrows its announced
 * size (instead of uploading what will be refused).
 */
class BlockReader {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #body: Readable;
  readonly #expected: number | undefined;
  #pending: Buffer | undefined;
  #ended = false;
  total = 0;

  constructor(body: Readable, expected: number | undefined) {
    this.#body = body;
    this.#expected = expected;
    this.#iterator = body[Symbol.asyncIterator]();
  }

  /**
   * Up to `limit` bytes in a buffer of their own size, so that a small body of unknown size
   * does not cost a whole block.
   */
  async readUpTo(limit: number): Promise<{ data: Buffer; last: boolean }> {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length < limit) {
      const chunk = await this.#next();
      if (chunk === undefined) return { data: Buffer.concat(chunks, length), last: true };
      const take = Math.min(chunk.length, limit - length);
      chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      if (take < chunk.length) this.#pending = chunk.subarray(take);
      length += take;
    }
    const last = await this.#atEnd();
    return { data: Buffer.concat(chunks, length), last };
  }

  /** Fills `target` as far as the body goes; `last` is true when nothing follows. */
  async read(target: Buffer): Promise<{ length: number; last: boolean }> {
    let length = 0;
    while (length < target.length) {
      const chunk = await this.#next();
      if (chunk === undefined) return { length, last: true };
      const take = Math.min(chunk.length, target.length - length);
      chunk.copy(target, length, 0, take);
      length += take;
      if (take < chunk.length) this.#pending = chunk.subarray(take);
    }
    return { length, last: await this.#atEnd() };
  }

  /** Reads one chunk ahead (kept for the next block) to tell whether the body has ended. */
  async #atEnd(): Promise<boolean> {
    this.#pending ??= await this.#next();
    return this.#pending === undefined;
  }

  assertComplete(): void {
    if (this.#expected !== undefined && this.total !== this.#expected) {
      throw new MovingDataError('invalid_argument', `body was ${this.total} bytes, ${this.#expected} were announced`);
    }
  }

  /** Stops reading and destroys the body (a failed put must not leave it half-consumed). */
  async discard(): Promise<void> {
    if (!this.#ended) await this.#iterator.return?.().catch(() => undefined);
    this.#body.destroy();
  }

  async #next(): Promise<Buffer | undefined> {
    if (this.#pending !== undefined) {
      const pending = this.#pending;
      this.#pending = undefined;
      return pending;
    }
    while (!this.#ended) {
      const step = await this.#iterator.next();
      if (step.done === true) {
        this.#ended = true;
        return undefined;
      }
      const chunk = toBuffer(step.value);
      if (chunk.length === 0) continue;
      this.total += chunk.length;
      if (this.#expected !== undefined && this.total > this.#expected) {
        throw new MovingDataError('invalid_argument', `body is longer than the ${this.#expected} bytes announced`);
      }
      return chunk;
    }
    return undefined;
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new MovingDataError('invalid_argument', 'body must yield bytes');
}

// --- credentials -------------------------------------------------------------------------------

interface Access {
  readonly accountUrl: string;
  readonly credential: StorageSharedKeyCredential | AnonymousCredential;
  readonly sasToken?: string;
}

function resolveAccess(options: AzureBlobStoreOptions, problem: (message: string) => Error): Access {
  const parts = options.connectionString === undefined ? {} : parseConnectionString(options.connectionString, problem);
  if (parts['usedevelopmentstorage'] !== undefined) {
    throw problem('UseDevelopmentStorage connection strings are not supported; give AccountName, AccountKey and BlobEndpoint');
  }
  const named = options.accountName ?? parts['accountname'];
  const protocol = parts['defaultendpointsprotocol'] ?? 'https';
  const suffix = parts['endpointsuffix'] ?? 'core.windows.net';
  const accountUrl = options.accountUrl ?? parts['blobendpoint'] ?? (named === undefined ? undefined : `${protocol}://${named}.blob.${suffix}`);
  if (accountUrl === undefined) throw problem('accountUrl is required (or a connection string with AccountName or BlobEndpoint)');
  let parsed: URL;
  try {
    parsed = new URL(accountUrl);
  } catch {
    throw problem(`accountUrl '${accountUrl}' is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw problem(`accountUrl must be http(s), got ${parsed.protocol}`);
  const accountKey = options.accountKey ?? parts['accountkey'];
  const sasToken = options.sasToken ?? parts['sharedaccesssignature'];
  if (accountKey !== undefined && sasToken !== undefined) throw problem('give either an account key or a SAS token, not both');
  if (accountKey !== undefined) {
    const accountName = named ?? accountFromUrl(parsed);
    if (accountName === undefined) throw problem('accountName is required: it cannot be read from accountUrl');
    return { accountUrl, credential: new StorageSharedKeyCredential(accountName, accountKey) };
  }
  if (sasToken !== undefined) return { accountUrl, credential: new AnonymousCredential(), sasToken };
  throw problem('no credentials: give accountKey, sasToken or a connection string (Entra ID would come from @azure/identity)');
}

function parseConnectionString(value: string, problem: (message: string) => Error): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const piece of value.split(';')) {
    const trimmed = piece.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    if (at <= 0) throw problem('connection string entries must be Name=value');
    parts[trimmed.slice(0, at).toLowerCase()] = trimmed.slice(at + 1);
  }
  return parts;
}

/** `<account>.blob.<suffix>` names the account in the host; emulators put it first in the path. */
function accountFromUrl(url: URL): string | undefined {
  const labels = url.hostname.split('.');
  if (labels.length > 2 && labels[1] === 'blob') return labels[0];
  const first = url.pathname.split('/').find((segment) => segment !== '');
  return first === undefined ? undefined : decodeURIComponent(first);
}

/**
 * Gives every try a deadline until the response headers and this store's own socket pool.
 * A core-http style factory is the SDK's supported way to add a policy to a storage pipeline.
 */
function transportPolicy(agent: HttpAgent, tryTimeoutMs: number): RequestPolicyFactory {
  return {
    create: (next) => ({
      sendRequest: (request) => {
        request.agent = agent;
        request.timeout = tryTimeoutMs;
        return next.sendRequest(request);
      },
    }),
  };
}

// --- names -------------------------------------------------------------------------------------
//
// Azure rewrites some names on the way in: it removes `.` and `..` path segments (even sent as
// %2E or with the `/` as %2F), drops a trailing `.` of a segment, and turns `\` into `/`. The
// mapping below keeps such keys apart and exact. It is the one rclone's azureblob backend uses
// for these characters (a segment's trailing `.` becomes U+FF0E `．`, `\` becomes U+FF3C `＼`,
// and U+201B `‛` quotes a literal `．`/`＼`/`‛`), so both tools list the same keys. Every other
// key is stored under its own name.

const QUOTE = '\u201B';
const FULL_STOP = '\uFF0E';
const FULL_BACKSLASH = '\uFF3C';

function encodeChars(text: string): string {
  if (!/[\\\u201B\uFF3C]/.test(text)) return text;
  let out = '';
  for (const ch of text) {
    if (ch === '\\') out += FULL_BACKSLASH;
    else if (ch === QUOTE || ch === FULL_BACKSLASH) out += QUOTE + ch;
    else out += ch;
  }
  return out;
}

function encodeSegment(segment: string): string {
  if (segment.endsWith('.')) return encodeChars(segment.slice(0, -1)) + FULL_STOP;
  if (segment.endsWith(FULL_STOP)) return encodeChars(segment.slice(0, -1)) + QUOTE + FULL_STOP;
  return encodeChars(segment);
}

function decodeSegment(segment: string): string {
  if (!/[\u201B\uFF3C\uFF0E]/.test(segment)) return segment;
  const chars = [...segment];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const next = chars[i + 1];
    const atEnd = i === chars.length - 1;
    if (ch === QUOTE && (next === QUOTE || next === FULL_BACKSLASH || (next === FULL_STOP && i + 2 === chars.length))) {
      out += next;
      i += 1;
    } else if (ch === FULL_BACKSLASH) out += '\\';
    else if (ch === FULL_STOP && atEnd) out += '.';
    else out += ch;
  }
  return out;
}

/** The blob name a key is stored under. */
export function toBlobName(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

/** The key a blob name stands for (inverse of toBlobName). */
export function fromBlobName(name: string): string {
  return name.split('/').map(decodeSegment).join('/');
}

/**
 * A blob-name prefix that every blob of a key under `prefix` starts with. The last, partial
 * segment may end with the `.` that becomes `．` if the segment ends there, so that character
 * is left out and the listing is filtered by key.
 */
function toBlobPrefix(prefix: string): string {
  const cut = prefix.lastIndexOf('/');
  const whole = cut < 0 ? '' : `${toBlobName(prefix.slice(0, cut))}/`;
  let partial = prefix.slice(cut + 1);
  if (partial.endsWith('.') || partial.endsWith(FULL_STOP)) partial = partial.slice(0, -1);
  return whole + encodeChars(partial);
}

// --- metadata ----------------------------------------------------------------------------------
//
// Azure metadata names must be C# identifiers: letters, digits and `_`, not starting with a
// digit; `plaintext-sha256` is refused (Azurite refuses it too). Any other character, and a
// leading digit, is written as `_xx` (hex), and `_` itself only when two hex digits follow it,
// so names that are identifiers already (`owner`, `hdi_isfolder`) are stored unchanged.

export function toMetadataName(name: string): string {
  const lower = name.toLowerCase();
  if (lower === '') throw new MovingDataError('invalid_argument', 'metadata names cannot be empty');
  let out = '';
  for (let i = 0; i < lower.length; i++) {
    const ch = lower[i]!;
    const code = lower.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) throw new MovingDataError('invalid_argument', `metadata name '${name}' must be printable ASCII`);
    const keep = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9' && i > 0) || (ch === '_' && !/^[0-9a-f]{2}/.test(lower.slice(i + 1, i + 3)));
    out += keep ? ch : `_${code.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function fromMetadataName(name: string): string {
  return name.toLowerCase().replace(/_([0-9a-f]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function toAzureMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) out[toMetadataName(name)] = value;
  return out;
}

function fromAzureMetadata(metadata: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) out[fromMetadataName(name)] = value;
  return out;
}

// --- responses ---------------------------------------------------------------------------------

function checksumsOf(md5: Uint8Array | undefined): Checksums {
  // Content-MD5 is the whole blob's MD5 only if whoever wrote it set it so; this adapter always
  // does, Put Blob computes it, and a block list committed without one has none.
  return md5 === undefined || md5.length !== 16 ? {} : { md5: Buffer.from(md5).toString('hex') };
}

function toInfo(
  key: string,
  raw: {
    size: number;
    etag?: string;
    lastModified?: Date;
    tier?: string;
    contentType?: string;
    md5?: Uint8Array;
    metadata?: Record<string, string>;
  },
): ObjectInfo {
  return {
    key,
    size: raw.size,
    ...(raw.etag === undefined ? {} : { etag: bareEtag(raw.etag) }),
    ...(raw.lastModified === undefined ? {} : { lastModified: raw.lastModified }),
    ...(raw.tier === undefined ? {} : { tier: raw.tier }),
    ...(raw.contentType === undefined ? {} : { contentType: raw.contentType }),
    checksums: checksumsOf(raw.md5),
    metadata: fromAzureMetadata(raw.metadata),
  };
}

/** The object's size from `Content-Range: bytes a-b/size`, when the answer was partial. */
function totalSize(response: BlobDownloadResponseParsed): number | undefined {
  const match = /\/(\d+)\s*$/.exec(response.contentRange ?? '');
  return match === null ? undefined : Number(match[1]);
}

function checkRange(range: { start: number; end?: number }): void {
  if (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && !Number.isSafeInteger(range.end))) {
    throw new MovingDataError('invalid_argument', `range ${range.start}-${range.end ?? ''} is not a byte range`);
  }
  if (range.end !== undefined && range.end < range.start) {
    throw new MovingDataError('range_not_satisfiable', `range ${range.start}-${range.end} ends before it starts`);
  }
}

/**
 * Hands out the download body with its failures as StorageErrors, and releases the response
 * (and its socket) when the consumer stops early.
 */
function guardBody(source: Readable, mapError: (err: unknown) => Error): Readable {
  const out = new PassThrough();
  source.on('error', (err) => out.destroy(mapError(err)));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

function bodyError(err: unknown, context: StorageErrorContext, signal: AbortSignal | undefined): StorageError {
  const mapped = toAzureStorageError(err, context, signal);
  if (mapped.code !== 'internal' || isStorageError(err)) return mapped;
  // The SDK's reader gives up with a plain Error once its resumes are spent: a broken transfer.
  return new StorageError('unavailable', `download broke off: ${mapped.message}`, context, { retryable: true, cause: err });
}

function integerIn(value: number, min: number, max: number, name: string, problem: (message: string) => Error): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw problem(`${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}
