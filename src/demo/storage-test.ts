/**
 * The seed's `POST /storage_test`: a probe written to each provider, replicated to the others,
 * verified end to end (decrypted and compared with its SHA-256), then removed. Per provider:
 * pass/fail and how long each step took — a quick answer to "is every location working?".
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { isMovingDataError } from '../errors.ts';
import type { MetadataStore } from '../metadata/index.ts';
import type { Replicator } from '../replication/replicator.ts';

export interface ProbeReport {
  readonly location: string;
  readonly provider: string;
  readonly ok: boolean;
  readonly write_ms: number | null;
  readonly replicate_ms: number | null;
  readonly verify_ms: number | null;
  readonly replicated_to: readonly string[];
  readonly error: { readonly step: string; readonly code: string; readonly message: string } | null;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

export async function storageTest(deps: { readonly metadata: MetadataStore; readonly replicator: Replicator }, principal: string, probeBytes = 64 * 1024): Promise<ProbeReport[]> {
  const { replicator, metadata } = deps;
  const reports: ProbeReport[] = [];
  for (const location of replicator.locations) {
    const provider = replicator.store(location).provider;
    const key = `_probes/storage-test-${location}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}.bin`;
    const others = replicator.locations.filter((l) => l !== location);
    let step = 'write';
    const times: { write: number | null; replicate: number | null; verify: number | null } = { write: null, replicate: null, verify: null };
    let fileId: string | undefined;
    try {
      const body = randomBytes(probeBytes);
      let started = performance.now();
      const written = await replicator.write(principal, key, [location], Readable.from([body]), { size: body.length, contentType: 'application/octet-stream', metadata: { purpose: 'storage-test' } });
      fileId = written.file.id;
      times.write = round(performance.now() - started);
      if (written.replicas[0]?.state !== 'verified') throw new Error(written.replicas[0]?.error?.message ?? 'the probe was not stored');

      step = 'replicate';
      started = performance.now();
      for (const other of others) await replicator.replicate(principal, written.file.id, other);
      times.replicate = round(performance.now() - started);

      step = 'verify';
      started = performance.now();
      for (const replica of await metadata.listReplicasOfVersion(written.file.id, written.version)) {
        const check = await replicator.verify(replica, { deep: true });
        if (!check.ok) throw new Error(check.message);
      }
      times.verify = round(performance.now() - started);
      reports.push({ location, provider, ok: true, write_ms: times.write, replicate_ms: times.replicate, verify_ms: times.verify, replicated_to: others, error: null });
    } catch (err) {
      reports.push({
        location,
        provider,
        ok: false,
        write_ms: times.write,
        replicate_ms: times.replicate,
        verify_ms: times.verify,
        replicated_to: others,
        error: { step, code: isMovingDataError(err) ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) },
      });
    } finally {
      if (fileId !== undefined) await removeProbe(deps, fileId);
    }
  }
  return reports;
}

async function removeProbe(deps: { readonly metadata: MetadataStore; readonly replicator: Replicator }, fileId: string): Promise<void> {
  // Best effort: a probe left behind is an ordinary file the inventory shows and a user can delete.
  for (const replica of await deps.metadata.listReplicasOfFile(fileId)) {
    await deps.metadata.transitionReplica(replica, { from: replica.state, to: 'deleted' }).catch(() => undefined);
    await deps.replicator.store(replica.location).inner.delete(replica.objectKey).catch(() => undefined);
  }
  await deps.metadata.deleteFile(fileId).catch(() => undefined);
}
