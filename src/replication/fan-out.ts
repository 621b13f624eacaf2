/**
 * Fan-out: one upload stored at N locations in a single streaming pass. The plaintext is read
 * once and encrypted once (one age payload); each location gets its own header wrapping the
 * file key for its own key, in front of the same payload bytes. The plaintext SHA-256 is taken
 * in the same pass, and the payload's CRC-32 too, from which each location's expected CRC-32
 * follows without hashing its bytes again (crc32.ts). All locations are written concurrently
 * through a tee with backpressure: the slowest sets the pace, nothing piles up in memory.
 *
 * A location configured with Fernet cannot share an age payload: it gets the plaintext through
 * the same tee and seals it itself (bounded by the Fernet size limit).
 *
 * Each branch is then verified from its put's answer (confirmStored), without another request:
 * the stored size must be the size sent, and the provider's checksum must match what was sent
 * (CRC-32 where the provider reports it, S3; otherwise the checksum the provider checked in
 * transit when it accepted the upload).
 */
import { PassThrough, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createPayloadEncryptor, newFileKey, payloadSize } from '../crypto/age/index.ts';
import { PlaintextMeter, sha256Hex, type EncryptedStore, type SealedPutResult } from '../crypto/encrypted-store.ts';
import { MovingDataError } from '../errors.ts';
import type { ObjectInfo, ObjectStore, PutResult } from '../storage/port.ts';
import { crc32Combine, crc32Hex, crc32Of } from './crc32.ts';
import { NoBranchLeftError, Tee } from './tee.ts';

const BRANCH_BUFFER = 1024 * 1024;

export interface FanOutTarget {
  readonly location: string;
  readonly store: EncryptedStore;
  /** Provider-native tier for this copy. */
  readonly tier?: string;
}

export interface FanOutRequest {
  readonly key: string;
  readonly targets: readonly FanOutTarget[];
  /** Plaintext size when known (exact; a different body length fails every branch). */
  readonly size?: number;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

export type BranchOutcome =
  | {
      readonly location: string;
      readonly ok: true;
      readonly keyId: string;
      readonly stored: ObjectInfo;
      /** SHA-256 of the copy's age header (or Fernet token): what a read checks first. */
      readonly sealSha256: string;
    }
  | { readonly location: string; readonly ok: false; readonly keyId: string | undefined; readonly error: unknown };

export interface FanOutResult {
  /** Plaintext bytes read (0 when the source itself failed). */
  readonly size: number;
  readonly sha256: string | undefined;
  /** The source failed (its error), as opposed to some destinations. */
  readonly sourceError: unknown;
  readonly branches: readonly BranchOutcome[];
}

/** Counts and CRC-32s the payload as it passes (once, for every location). */
class PayloadTap extends Transform {
  crc = 0;
  length = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.crc = crc32Of(chunk, this.crc);
    this.length += chunk.length;
    callback(null, chunk);
  }
}

export async function fanOutWrite(body: Readable, request: FanOutRequest): Promise<FanOutResult> {
  if (request.targets.length === 0) {
    body.destroy();
    throw new MovingDataError('invalid_argument', 'a write needs at least one location');
  }
  const ageTargets = request.targets.filter((t) => t.store.format === 'age');
  const fernetTargets = request.targets.filter((t) => t.store.format === 'fernet');
  const fileKey = newFileKey();
  const sealed = ageTargets.map((t) => t.store.headerFor(fileKey));

  const meter = new PlaintextMeter(request.size);
  const { transform: encryptor } = createPayloadEncryptor(fileKey);
  const tap = new PayloadTap();
  const ageBranches = ageTargets.map(() => new PassThrough({ highWaterMark: BRANCH_BUFFER }));
  const fernetBranches = fernetTargets.map(() => new PassThrough({ highWaterMark: BRANCH_BUFFER }));
  const plaintextBranches: Writable[] = [...(ageTargets.length > 0 ? [encryptor] : []), ...fernetBranches];

  const common = {
    ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
    ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
  };
  const puts: Array<Promise<PutResult | SealedPutResult>> = [
    ...ageTargets.map((t, i) =>
      t.store.putSealed(request.key, sealed[i]!, ageBranches[i]!, { ...common, ...(t.tier === undefined ? {} : { tier: t.tier }), ...(request.size === undefined ? {} : { plaintextSize: request.size }) }),
    ),
    ...fernetTargets.map((t, i) => t.store.put(request.key, fernetBranches[i]!, { ...common, ...(t.tier === undefined ? {} : { tier: t.tier }), ...(request.size === undefined ? {} : { size: request.size }) })),
  ];
  const branches = [...ageBranches, ...fernetBranches];
  // A destination that gives up must stop receiving bytes, or the tee would wait for it forever.
  puts.forEach((put, i) => {
    put.catch((err: unknown) => branches[i]!.destroy(err instanceof Error ? err : new Error(String(err))));
  });

  const flows = [pipeline(body, meter, new Tee(plaintextBranches)), ...(ageTargets.length > 0 ? [pipeline(encryptor, tap, new Tee(ageBranches))] : [])];
  const [source] = await Promise.allSettled(flows);
  const settled = await Promise.allSettled(puts);
  // The source failed (its own error, or the announced size was wrong) unless it only stopped
  // because every destination had failed (each then has its own error).
  const sourceError: unknown = source?.status === 'rejected' && !(source.reason instanceof NoBranchLeftError) ? source.reason : undefined;

  const targets = [...ageTargets, ...fernetTargets];
  const keyIds = [...sealed.map((s) => s.keyId), ...fernetTargets.map(() => undefined)];
  const outcomes = await Promise.all(
    targets.map(async (target, i): Promise<BranchOutcome> => {
      const put = settled[i]!;
      const keyId = keyIds[i];
      if (sourceError !== undefined) return { location: target.location, ok: false, keyId, error: sourceError };
      if (put.status === 'rejected') return { location: target.location, ok: false, keyId, error: put.reason };
      try {
        const isAge = i < ageTargets.length;
        const sealSha256 = isAge ? sha256Hex(sealed[i]!.header) : (put.value as SealedPutResult).sealSha256;
        const stored = isAge
          ? confirmStored(target.location, request.key, put.value, {
              size: sealed[i]!.header.length + payloadSize(meter.size),
              crc32: crc32Hex(crc32Combine(crc32Of(sealed[i]!.header), tap.crc, tap.length)),
            })
          : await headAndVerify(target.store.inner, target.location, request.key, put.value, {}, request.signal);
        return { location: target.location, ok: true, keyId: keyId ?? target.store.activeKeyId, stored, sealSha256 };
      } catch (error) {
        return { location: target.location, ok: false, keyId, error };
      }
    }),
  );
  return { size: meter.size, sha256: meter.sha256 === '' ? undefined : meter.sha256, sourceError, branches: outcomes };
}

/**
 * What a put stored, checked against what was sent. A put's answer already describes the stored
 * object (the provider checked the bytes in transit; see PutResult, and the storage conformance
 * suite, which holds every adapter to it), so no further request is made: its size must be the
 * size sent, its CRC-32 (S3) the one computed from the payload.
 */
export function confirmStored(location: string, key: string, put: PutResult, expected: { readonly size?: number; readonly crc32?: string }): ObjectInfo {
  const stored: ObjectInfo = {
    key,
    size: put.size,
    ...(put.etag === undefined ? {} : { etag: put.etag }),
    ...(put.tier === undefined ? {} : { tier: put.tier }),
    checksums: put.checksums,
    metadata: {},
  };
  verifyStored(location, key, stored, put, expected.size, expected.crc32);
  return stored;
}

/** HEAD the stored object and check it against the put's answer and what was sent. */
export async function headAndVerify(store: ObjectStore, location: string, key: string, put: PutResult, expected: { readonly size?: number; readonly crc32?: string }, signal?: AbortSignal): Promise<ObjectInfo> {
  const stored = await store.head(key, signal);
  verifyStored(location, key, stored, put, expected.size, expected.crc32);
  return stored;
}

/** What the provider stored is what was sent: size, then the best checksum it reports. */
export function verifyStored(location: string, key: string, stored: ObjectInfo, sent: PutResult, expectedSize: number | undefined, expectedCrc32: string | undefined): void {
  const where = `${location}:${key}`;
  if (expectedSize !== undefined && stored.size !== expectedSize) {
    throw new MovingDataError('checksum_mismatch', `${where}: stored ${stored.size} bytes, sent ${expectedSize}`, { retryable: true });
  }
  if (expectedCrc32 !== undefined && stored.checksums.crc32 !== undefined && stored.checksums.crc32 !== expectedCrc32) {
    throw new MovingDataError('checksum_mismatch', `${where}: provider CRC-32 ${stored.checksums.crc32}, sent ${expectedCrc32}`, { retryable: true });
  }
  for (const [kind, value] of Object.entries(sent.checksums)) {
    const reported = stored.checksums[kind as keyof typeof stored.checksums];
    if (kind !== 'sha256' && reported !== undefined && value !== undefined && reported !== value) {
      throw new MovingDataError('checksum_mismatch', `${where}: provider ${kind} ${reported} differs from the upload's ${value}`, { retryable: true });
    }
  }
}
