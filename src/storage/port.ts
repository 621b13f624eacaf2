/**
 * The storage port: what MovingData needs from an object store, and nothing more.
 *
 * Modelled on rclone's `fs.Fs`/`fs.Object` split: a small required surface, optional abilities
 * declared as data in `features` so that callers ask instead of catching `unsupported`.
 * Every adapter (one folder each under src/storage/) implements this interface with its
 * provider's official SDK, and every adapter runs the same conformance suite
 * (test/storage/conformance.ts) against its real server.
 *
 * Conventions every adapter keeps:
 * - Keys are UTF-8 strings of 1..1024 bytes, used verbatim (no normalisation, no escaping
 *   visible to callers). `/` has no special meaning: the namespace is flat.
 * - Bodies are streams. Nothing buffers a whole object; memory is bounded by part size ×
 *   concurrency, both fixed per adapter.
 * - Listings are sorted: by the UTF-8 bytes of the key on S3 and GCS, by UTF-16 code units on
 *   Azure (`features.listOrder`); the two differ only when a character above U+FFFF meets one
 *   in U+E000..U+FFFF at the same position. Sorted listings let a drift scan merge-join.
 * - Checksums are lowercase hex digests of the stored bytes.
 * - Errors are `StorageError` with a stable code (see errors.ts), never a raw SDK error.
 */
import type { Readable } from 'node:stream';

export type ProviderKind = 's3' | 'azure' | 'gcs' | 'local';

/** Provider-neutral temperature of a tier; providers name theirs differently. */
export type TierClass = 'hot' | 'cool' | 'cold' | 'archive';

export interface TierSpec {
  /** The provider's own name: `STANDARD_IA`, `Cool`, `NEARLINE`, ... */
  readonly name: string;
  readonly class: TierClass;
  /** Objects in this tier cannot be read until rehydrated (S3 Glacier, Azure Archive). */
  readonly offline?: boolean;
}

export type ChecksumKind = 'md5' | 'crc32c' | 'crc32' | 'sha256';

/** Lowercase hex digests, as far as the provider reports them for the whole object. */
export type Checksums = Partial<Record<ChecksumKind, string>>;

export interface StoreFeatures {
  /** Server-side copy within the same store (`copy` is defined). */
  readonly copy: boolean;
  /** Tiers the store accepts, default first. Empty when the store has no tiers. */
  readonly tiers: readonly TierSpec[];
  /** Checksums `head` can report (a put may still miss one, e.g. multipart MD5). */
  readonly checksums: readonly ChecksumKind[];
  /** Objects above this size go through multipart / block / resumable upload. */
  readonly multipartThreshold: number;
  /** Order of listings: UTF-8 bytes (default; S3, GCS) or UTF-16 code units (Azure). */
  readonly listOrder?: ListOrder;
}

export type ListOrder = 'utf8' | 'utf16';

/** What `head` returns and `get` returns alongside the body. */
export interface ObjectInfo {
  readonly key: string;
  /** Size of the whole object in bytes (not of a requested range). */
  readonly size: number;
  readonly etag?: string;
  readonly lastModified?: Date;
  /** Provider-native tier / storage class name, when the provider reports one. */
  readonly tier?: string;
  readonly contentType?: string;
  readonly checksums: Checksums;
  /** User metadata, keys lowercased. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** One entry of a listing: what the provider's list call returns without extra requests. */
export type ListedObject = Omit<ObjectInfo, 'metadata' | 'contentType'>;

export interface ListPage {
  readonly items: readonly ListedObject[];
  /**
   * With a `delimiter`: the key prefixes one level down (each ends with the delimiter), rolled
   * up instead of their objects, as S3's CommonPrefixes. Absent or empty otherwise.
   */
  readonly prefixes?: readonly string[];
  /** Opaque cursor for the next page; undefined when this was the last page. */
  readonly nextCursor?: string;
}

/** The largest page any adapter gives (Azure's); others cap a larger limit at their own maximum. */
export const LIST_PAGE_MAX = 5000;

export interface ListOptions {
  /** Cursor from a previous page. */
  readonly cursor?: string;
  /**
   * Maximum items per page. Default 1000; the provider caps it at its own maximum (S3 and GCS
   * 1000, Azure 5000), so a caller that walks everything asks for LIST_PAGE_MAX.
   */
  readonly limit?: number;
  /**
   * List one level only: a key with `/` after the prefix is not listed; its part up to and
   * including that `/` comes once in `prefixes` instead (S3's Delimiter, Azure's hierarchy
   * listing, GCS's delimiter). Items and prefixes share the page's limit and its order.
   */
  readonly delimiter?: '/';
  readonly signal?: AbortSignal;
}

export interface PutOptions {
  /** Exact length when known; lets small objects go in a single request. */
  readonly size?: number;
  readonly contentType?: string;
  /** User metadata; keys are lowercased ASCII, values ASCII. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Provider-native tier name; must be one of `features.tiers`. */
  readonly tier?: string;
  readonly signal?: AbortSignal;
}

/**
 * What a put stored. A put resolves only once the provider has checked the bytes it received
 * against a checksum sent with them (S3 CRC32, Azure Content-MD5 per request, GCS MD5/CRC32C),
 * so these figures describe the stored object as `head` would (the conformance suite checks
 * that they agree), without another request.
 */
export interface PutResult {
  readonly key: string;
  /** Bytes stored. */
  readonly size: number;
  readonly etag?: string;
  readonly checksums: Checksums;
  /** The tier the object went into, when the request or the provider's answer says so. */
  readonly tier?: string;
}

/** Inclusive byte range, as in HTTP. `end` undefined means "to the end". */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

export interface GetOptions {
  readonly range?: ByteRange;
  readonly signal?: AbortSignal;
}

export interface GetResult {
  readonly body: Readable;
  readonly info: ObjectInfo;
  /** The range actually served (inclusive), when a range was requested. */
  readonly range?: { readonly start: number; readonly end: number };
}

export interface CopyOptions {
  readonly tier?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export interface ObjectStore {
  /** Location name this store serves, e.g. `aws`. */
  readonly location: string;
  readonly provider: ProviderKind;
  /** Bucket or container (or directory, for local disk). */
  readonly container: string;
  readonly features: StoreFeatures;

  /** Create the bucket / container if it does not exist. Idempotent. */
  ensureContainer(): Promise<void>;
  /** One cheap authenticated round trip; throws a StorageError when the store is not usable. */
  ping(signal?: AbortSignal): Promise<void>;

  /** Stream `body` to `key`, replacing any existing object. Consumes `body` fully or destroys it. */
  put(key: string, body: Readable, options?: PutOptions): Promise<PutResult>;
  /** Stream an object (or a range of it). Throws `not_found` before any byte is produced. */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo>;
  /** Delete `key`. Deleting a missing key succeeds (as on S3). */
  delete(key: string, signal?: AbortSignal): Promise<void>;
  /** One page of keys starting with `prefix`, in `features.listOrder`. */
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;

  /**
   * Why this store cannot hold `key`, beyond the port's own rules (keys.ts): e.g. MinIO's path
   * limits or GCS's reserved names. Undefined when it can. Operations on such a key fail with
   * `invalid_key` and this reason. Absent when the store takes every key the port allows.
   */
  keyProblem?(key: string): string | undefined;

  /** Server-side copy within this store; present when `features.copy`. */
  copy?(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<ObjectInfo>;
  /** Change an object's tier in place; present when `features.tiers` is not empty. */
  setTier?(key: string, tier: string, signal?: AbortSignal): Promise<void>;
  /**
   * Remove what uploads that never finished left behind, started more than `olderThanMs` ago:
   * temporary files (local disk), incomplete multipart uploads (S3: invisible in listings, and
   * billed). Returns how many were removed. Absent where the provider cleans up by itself.
   */
  cleanupIncomplete?(olderThanMs: number, signal?: AbortSignal): Promise<number>;

  /** Release sockets and clients. */
  close(): Promise<void>;
}
