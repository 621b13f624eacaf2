/**
 * The metadata conformance suite: every adapter runs exactly these tests, through one call
 * from a few-line test file:
 *
 *   runMetadataConformance({ name: 'pglite', fresh: async () => ({ open, destroy }) });
 *
 * Each test gets a fresh, empty target (a new directory, a new schema) and may open it more
 * than once, so start-up migrations are exercised on empty and on existing stores. Values are
 * asserted exactly, so two adapters that pass return identical JS values.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, auditEntryHash } from '../audit-chain.ts';
import type { AuditEntry, EncryptionDescriptor, FileRecord, MetadataStore, NewAuditEntry, Replica, ReplicaRef } from '../port.ts';
import { describeJobQueueConformance } from './jobs.ts';
import { expectCode } from './expect.ts';

export interface MetadataTarget {
  /** Open a store on this target; called again only after the previous store was closed. */
  open(): Promise<MetadataStore>;
  /** Remove what the target holds (directory, schema). */
  destroy(): Promise<void>;
}

export interface MetadataConformanceOptions {
  readonly name: string;
  /** A new, empty target. */
  fresh(): Promise<MetadataTarget>;
  /**
   * Changes the adapter's audit log behind the port's back, as someone with raw database
   * access could, so the suite can prove `verify` notices. The tamper tests are skipped
   * without it.
   */
  readonly auditTamperer?: AuditTamperer;
}

/** Raw tampering with a store's audit log (see src/metadata/sql/testing.ts for SQL stores). */
export interface AuditTamperer {
  /** Overwrite one field of entry `seq`, leaving its hash as it was; `details` takes JSON text. */
  edit(store: MetadataStore, seq: number, field: 'principal' | 'action' | 'outcome' | 'location' | 'object_key' | 'details' | 'prev_hash' | 'hash', value: string): Promise<void>;
  /** Change the principal of entry `seq` and recompute that entry's hash (a careful forger). */
  rewrite(store: MetadataStore, seq: number, principal: string): Promise<void>;
  /** Delete entry `seq`. */
  remove(store: MetadataStore, seq: number): Promise<void>;
  /** Exchange the positions (seq numbers) of entries `a` and `b`. */
  swap(store: MetadataStore, a: number, b: number): Promise<void>;
  /** Delete the newest `count` entries. */
  truncateTail(store: MetadataStore, count: number): Promise<void>;
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Entry i of a small, varied log. */
function sampleEntry(i: number): NewAuditEntry {
  const actions = ['write', 'read', 'move', 'key_use', 'denied', 'delete'] as const;
  const action = actions[i % actions.length] ?? 'write';
  return {
    principal: i % 3 === 0 ? 'system' : `user-${i % 4}`,
    action,
    outcome: action === 'denied' ? 'denied' : 'allowed',
    location: ['aws', 'azure', 'gcp'][i % 3] ?? null,
    objectKey: `reports/${i}.csv`,
    keyId: action === 'key_use' ? 'age1locationkey' : null,
    sha256: action === 'write' || action === 'read' ? createHash('sha256').update(String(i)).digest('hex') : null,
    details: { i, request: `req-${i}` },
  };
}

async function appendSamples(store: MetadataStore, count: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for (let i = 1; i <= count; i += 1) entries.push(await store.audit.append(sampleEntry(i)));
  return entries;
}

const AGE: EncryptionDescriptor = { format: 'age', keyIds: ['age1demo'] };
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A file with one committed version. */
async function committedFile(store: Pick<MetadataStore, 'ensureFile' | 'addVersion'>, key: string): Promise<FileRecord> {
  const { file } = await store.ensureFile({ key });
  await store.addVersion({ fileId: file.id, state: 'committed', size: 1, sha256: SHA_A, encryption: AGE });
  return file;
}

export function runMetadataConformance(options: MetadataConformanceOptions): void {
  describe(`metadata conformance: ${options.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** A fresh target, closed and destroyed after the test. */
    async function target(): Promise<{ open(): Promise<MetadataStore> }> {
      const t = await options.fresh();
      cleanups.push(() => t.destroy());
      return {
        async open() {
          const store = await t.open();
          cleanups.push(() => store.close());
          return store;
        },
      };
    }

    async function freshStore(): Promise<MetadataStore> {
      return (await target()).open();
    }

    describe('start-up', () => {
      it('applies migrations to an empty store and re-opens without error, keeping the data', async () => {
        const t = await target();
        const first = await t.open();
        expect((await first.listInventory()).items).toEqual([]);
        const file = await committedFile(first, 'kept.txt');
        await first.close();
        await first.close(); // idempotent

        const second = await t.open();
        expect((await second.getFile(file.id)).key).toBe('kept.txt');
        expect((await second.getVersion(file.id, 1)).state).toBe('committed');
        await second.close();

        const third = await t.open();
        expect((await third.listInventory()).items.map((e) => e.file.key)).toEqual(['kept.txt']);
      });

      it('answers ping with a latency and declares its features', async () => {
        const store = await freshStore();
        const { latencyMs } = await store.ping();
        expect(latencyMs).toBeGreaterThanOrEqual(0);
        expect(latencyMs).toBeLessThan(5000);
        expect(typeof store.kind).toBe('string');
        expect(typeof store.features.multiProcess).toBe('boolean');
        expect(store.features.skipLocked).toBe(true);
      });
    });

    describe('files', () => {
      it('creates, finds and soft-deletes; the key is unique among live files only', async () => {
        const store = await freshStore();
        const created = await store.createFile({ key: 'docs/report.pdf', contentType: 'application/pdf' });
        expect(created).toMatchObject({ key: 'docs/report.pdf', contentType: 'application/pdf', currentVersion: null, deletedAt: null });
        await expectCode(store.createFile({ key: 'docs/report.pdf' }), 'conflict');
        expect(await store.findFileByKey('docs/report.pdf')).toEqual(created);
        expect(await store.ensureFile({ key: 'docs/report.pdf' })).toEqual({ file: created, created: false });

        const deleted = await store.deleteFile(created.id);
        expect(deleted.deletedAt).toBeInstanceOf(Date);
        expect(await store.findFileByKey('docs/report.pdf')).toBeUndefined();
        expect((await store.getFile(created.id)).deletedAt).toEqual(deleted.deletedAt);
        await expectCode(store.deleteFile(created.id), 'not_found');
        await expectCode(store.addVersion({ fileId: created.id, encryption: AGE }), 'conflict');

        // The key is free again: a new file, a new id, the old one kept as history.
        const reborn = await store.createFile({ key: 'docs/report.pdf' });
        expect(reborn.id).not.toBe(created.id);
        expect((await store.listInventory({ includeDeleted: true })).items.map((e) => e.file.id)).toEqual([created.id, reborn.id]);
      });

      it('ensureFile creates exactly one file under concurrent callers', async () => {
        const store = await freshStore();
        const results = await Promise.all(Array.from({ length: 10 }, () => store.ensureFile({ key: 'race.bin' })));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.file.id)).size).toBe(1);
      });
    });

    describe('versions', () => {
      it('numbers 20 concurrent versions of one file 1..20 without duplicates', async () => {
        const store = await freshStore();
        const { file } = await store.ensureFile({ key: 'hot.bin' });
        const other = await store.createFile({ key: 'other.bin' });
        const added = await Promise.all([
          ...Array.from({ length: 20 }, (_, i) => store.addVersion({ fileId: file.id, encryption: AGE, writtenBy: `writer-${i}` })),
          store.addVersion({ fileId: other.id, encryption: AGE }),
        ]);
        const numbers = added.filter((v) => v.fileId === file.id).map((v) => v.version);
        expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect((await store.listVersions(file.id)).map((v) => v.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect((await store.listVersions(other.id)).map((v) => v.version)).toEqual([1]);
      });

      it('makes the last committed version current (whatever its number), with guarded transitions', async () => {
        const store = await freshStore();
        const { file } = await store.ensureFile({ key: 'v.txt' });
        const v1 = await store.addVersion({ fileId: file.id, encryption: AGE });
        const v2 = await store.addVersion({ fileId: file.id, encryption: AGE });
        expect([v1.state, v1.size, v1.sha256]).toEqual(['pending', null, null]);

        await expectCode(store.transitionVersion(file.id, 2, { from: 'pending', to: 'committed', size: 3 }), 'invalid_argument');
        const c2 = await store.transitionVersion(file.id, 2, { from: 'pending', to: 'committed', size: 3, sha256: SHA_B });
        expect(c2).toMatchObject({ applied: true, value: { version: 2, state: 'committed', size: 3, sha256: SHA_B } });
        expect((await store.getFile(file.id)).currentVersion).toBe(2);

        // A slow writer that commits last wins, though its number is older: the last commit wins.
        await store.transitionVersion(file.id, 1, { from: 'pending', to: 'committed', size: 1, sha256: SHA_A });
        expect((await store.getFile(file.id)).currentVersion).toBe(1);

        const stale = await store.transitionVersion(file.id, v2.version, { from: 'pending', to: 'failed' });
        expect(stale).toMatchObject({ applied: false, current: { state: 'committed' } });

        // The current version leaving `committed` hands over to the highest committed one left.
        await store.transitionVersion(file.id, 1, { from: ['committed'], to: 'deleted' });
        expect((await store.getFile(file.id)).currentVersion).toBe(2);
        await store.transitionVersion(file.id, 2, { from: 'committed', to: 'deleted' });
        expect((await store.getFile(file.id)).currentVersion).toBeNull();

        const v3 = await store.addVersion({ fileId: file.id, state: 'committed', size: 0, sha256: SHA_A, encryption: AGE });
        expect(v3.version).toBe(3);
        expect((await store.getFile(file.id)).currentVersion).toBe(3);
      });
    });

    describe('live copies per location', () => {
      it('serves per location the verified copy of a committed version, else a failed one; supersedes the others atomically', async () => {
        const store = await freshStore();
        const { file } = await store.ensureFile({ key: 'live/k' });
        expect(await store.liveReplicaAt('live/k', 'aws')).toBeUndefined();
        await store.addVersion({ fileId: file.id, state: 'committed', size: 1, sha256: SHA_A, encryption: AGE, contentType: 'text/plain' });
        await store.upsertReplica({ fileId: file.id, version: 1, location: 'aws', objectKey: 'live/k~v1', state: 'verified' });
        await store.upsertReplica({ fileId: file.id, version: 1, location: 'azure', objectKey: 'live/k~v1', state: 'verified' });
        // A pending version's copy is never live, even verified.
        await store.addVersion({ fileId: file.id, encryption: AGE });
        await store.upsertReplica({ fileId: file.id, version: 2, location: 'aws', objectKey: 'live/k~v2', state: 'verified' });
        const first = await store.liveReplicaAt('live/k', 'aws');
        expect(first).toMatchObject({ file: { id: file.id, key: 'live/k' }, version: { version: 1, sha256: SHA_A, contentType: 'text/plain' }, replica: { location: 'aws', objectKey: 'live/k~v1' } });

        await store.transitionVersion(file.id, 2, { from: 'pending', to: 'committed', size: 2, sha256: SHA_B });
        // The switch and the supersede are one transaction under the file's lock.
        const superseded = await store.transaction(async (tx) => {
          await tx.lockFile(file.id);
          return tx.supersedeReplicas(file.id, 'aws', { keep: 2 });
        });
        expect(superseded.map((r) => [r.version, r.location, r.state])).toEqual([[1, 'aws', 'deleted']]);
        expect((await store.liveReplicaAt('live/k', 'aws'))?.version.version).toBe(2);
        // Each location its own: azure still serves v1.
        expect((await store.liveReplicaAt('live/k', 'azure'))?.replica.version).toBe(1);

        // A damaged copy (failed) is what the location has when nothing verified is left.
        await store.transitionReplica({ fileId: file.id, version: 2, location: 'aws' }, { from: 'verified', to: 'failed', lastError: 'integrity_mismatch: x' });
        expect(await store.liveReplicaAt('live/k', 'aws')).toMatchObject({ replica: { version: 2, state: 'failed' } });
        const deleted = await store.supersedeReplicas(file.id, 'aws', { states: ['verified', 'failed', 'pending'] });
        expect(deleted.map((r) => r.version)).toEqual([2]);
        expect(await store.liveReplicaAt('live/k', 'aws')).toBeUndefined();

        // The file goes once nothing of it is left, and not before.
        expect(await store.deleteFileIfUnused(file.id)).toBe(false);
        await store.supersedeReplicas(file.id, 'azure');
        const { file: other } = await store.ensureFile({ key: 'live/pending' });
        await store.addVersion({ fileId: other.id, encryption: AGE });
        expect(await store.deleteFileIfUnused(other.id)).toBe(false);
        expect(await store.deleteFileIfUnused(file.id)).toBe(true);
        expect(await store.deleteFileIfUnused(file.id)).toBe(false);
        expect(await store.findFileByKey('live/k')).toBeUndefined();
        expect(await store.liveReplicaAt('live/k', 'azure')).toBeUndefined();
        await expectCode(store.lockFile('999999999'), 'not_found');
      });

      it('serialises lockers of one file: a second transaction waits for the first', async () => {
        const store = await freshStore();
        if (!store.features.multiProcess) return; // one connection: transactions are serial anyway
        const { file } = await store.ensureFile({ key: 'lock/k' });
        const order: string[] = [];
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        const first = store.transaction(async (tx) => {
          await tx.lockFile(file.id);
          order.push('first locked');
          await held;
          order.push('first done');
        });
        while (order.length === 0) await new Promise((r) => setTimeout(r, 5));
        const second = store.transaction(async (tx) => {
          await tx.lockFile(file.id);
          order.push('second locked');
        });
        await new Promise((r) => setTimeout(r, 100));
        release();
        await Promise.all([first, second]);
        expect(order).toEqual(['first locked', 'first done', 'second locked']);
      });

      it('lists copies left in flight longer than a given age, oldest first', async () => {
        const store = await freshStore();
        const { file } = await store.ensureFile({ key: 'stale/k' });
        await store.addVersion({ fileId: file.id, encryption: AGE });
        await store.upsertReplica({ fileId: file.id, version: 1, location: 'aws', objectKey: 'stale/k~v1', state: 'writing' });
        await store.upsertReplica({ fileId: file.id, version: 1, location: 'gcp', objectKey: 'stale/k~v1', state: 'verified' });
        expect(await store.listStaleReplicas(['writing'], 60_000)).toEqual([]);
        await new Promise((r) => setTimeout(r, 20));
        expect((await store.listStaleReplicas(['pending', 'writing'], 10)).map((r) => r.location)).toEqual(['aws']);
        await expectCode(store.listStaleReplicas(['writing'], -1), 'invalid_argument');
      });
    });

    describe('writes', () => {
      const objectKey = (key: string) => ({ before: `${key}~v`, after: '.0123456789ab' });
      const copy = (location: string) => ({ location, encryption: AGE });
      const stored = (location: string, storedSize = 10) => ({ location, stored: { storedSize, checksums: { crc32: '0badf00d' }, encryption: { ...AGE, params: { seal_sha256: SHA_B } } } });
      const entry = (key: string, location: string, version: number): NewAuditEntry => ({
        principal: 'ana',
        action: 'write',
        outcome: 'allowed',
        location,
        objectKey: key,
        sha256: SHA_A,
        details: { version },
        events: [{ topic: 'access', key: `${location}/${key}`, value: JSON.stringify({ version }) }],
      });

      it('begins a write in one call: the file, a pending version and a writing copy per location, named after the version', async () => {
        const store = await freshStore();
        const first = await store.beginWrite({ key: 'w/a', contentType: 'text/csv', metadata: { owner: 'ana' }, writtenBy: 'ana', encryption: AGE, objectKey: objectKey('w/a'), copies: [copy('aws'), copy('gcp')] });
        expect(first.file).toMatchObject({ key: 'w/a', contentType: 'text/csv', currentVersion: null });
        expect(first.version).toMatchObject({ fileId: first.file.id, version: 1, state: 'pending', metadata: { owner: 'ana' }, writtenBy: 'ana', contentType: 'text/csv', encryption: AGE });
        expect(first.replicas.map((r) => [r.location, r.version, r.state, r.objectKey, r.encryption]).sort()).toEqual([
          ['aws', 1, 'writing', 'w/a~v1.0123456789ab', AGE],
          ['gcp', 1, 'writing', 'w/a~v1.0123456789ab', AGE],
        ]);
        const second = await store.beginWrite({ key: 'w/a', encryption: AGE, objectKey: objectKey('w/a'), copies: [copy('aws')] });
        expect(second.file.id).toBe(first.file.id);
        expect(second.version.version).toBe(2);
        expect(second.replicas.map((r) => r.objectKey)).toEqual(['w/a~v2.0123456789ab']);
        // The file is found again after its last copy went, as a new file.
        await store.deleteFile(first.file.id);
        const third = await store.beginWrite({ key: 'w/a', encryption: AGE, objectKey: objectKey('w/a'), copies: [copy('aws')] });
        expect(third.file.id).not.toBe(first.file.id);
        expect(third.version.version).toBe(1);
        await expectCode(store.beginWrite({ key: 'w/b', encryption: AGE, objectKey: objectKey('w/b'), copies: [] }), 'invalid_argument');
        await expectCode(store.beginWrite({ key: 'w/b', encryption: AGE, objectKey: objectKey('w/b'), copies: [copy('aws'), copy('aws')] }), 'invalid_argument');
        await expectCode(store.beginWrite({ key: 'w/b', encryption: AGE, objectKey: { before: 'x'.repeat(1020), after: '' }, copies: [copy('aws')] }), 'invalid_key');
        expect(await store.findFileByKey('w/b')).toBeUndefined();
      });

      it('gives 20 concurrent writers of one new key one file and versions 1..20', async () => {
        const t = await target();
        const store = await t.open();
        const writers = store.features.multiProcess ? [store, await t.open()] : [store];
        const started = await Promise.all(Array.from({ length: 20 }, (_, i) => writers[i % writers.length]!.beginWrite({ key: 'w/race', encryption: AGE, objectKey: objectKey('w/race'), copies: [copy('aws')] })));
        expect(new Set(started.map((s) => s.file.id)).size).toBe(1);
        expect(started.map((s) => s.version.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });

      it('commits a write with its audit entries in one transaction: current version, verified and failed copies, the copies it supersedes', async () => {
        const store = await freshStore();
        const v1 = await store.beginWrite({ key: 'w/c', encryption: AGE, objectKey: objectKey('w/c'), copies: [copy('aws'), copy('azure')] });
        const one = await store.commitWrite({ fileId: v1.file.id, version: 1, size: 7, sha256: SHA_A, copies: [stored('aws'), stored('azure')], audit: [entry('w/c', 'aws', 1), entry('w/c', 'azure', 1)] });
        if (!one.applied) throw new Error('the first commit did not apply');
        expect(one.file).toMatchObject({ id: v1.file.id, currentVersion: 1 });
        expect(one.version).toMatchObject({ version: 1, state: 'committed', size: 7, sha256: SHA_A });
        expect(one.replicas.map((r) => [r.location, r.state, r.storedSize, r.checksums, r.encryption, r.attempts, r.lastError]).sort()).toEqual([
          ['aws', 'verified', 10, { crc32: '0badf00d' }, { ...AGE, params: { seal_sha256: SHA_B } }, 1, null],
          ['azure', 'verified', 10, { crc32: '0badf00d' }, { ...AGE, params: { seal_sha256: SHA_B } }, 1, null],
        ]);
        expect(one.superseded).toEqual([]);
        expect(one.audit.map((e) => [e.seq, e.action, e.location])).toEqual([
          [1, 'write', 'aws'],
          [2, 'write', 'azure'],
        ]);
        expect((await store.outbox.stats()).depth).toBe(2);
        expect((await store.liveReplicaAt('w/c', 'aws'))?.version.version).toBe(1);

        // v2 stored at aws only, failed at azure: aws switches to v2, azure keeps serving v1.
        await store.beginWrite({ key: 'w/c', encryption: AGE, objectKey: objectKey('w/c'), copies: [copy('aws'), copy('azure')] });
        const two = await store.commitWrite({ fileId: v1.file.id, version: 2, size: 8, sha256: SHA_B, copies: [stored('aws', 11), { location: 'azure', error: 'azure is down' }], audit: [entry('w/c', 'aws', 2)] });
        if (!two.applied) throw new Error('the second commit did not apply');
        expect(two.replicas.map((r) => [r.location, r.state, r.lastError]).sort()).toEqual([
          ['aws', 'verified', null],
          ['azure', 'failed', 'azure is down'],
        ]);
        expect(two.superseded.map((r) => [r.location, r.version, r.state])).toEqual([['aws', 1, 'deleted']]);
        expect(two.file.currentVersion).toBe(2);
        expect((await store.liveReplicaAt('w/c', 'aws'))?.version).toMatchObject({ version: 2, sha256: SHA_B });
        expect((await store.liveReplicaAt('w/c', 'azure'))?.version.version).toBe(1);
        expect((await store.audit.verify()).entries).toBe(3);
      });

      it('commits nothing and records nothing for a version that is no longer pending; a bad commit fails alone', async () => {
        const store = await freshStore();
        const w = await store.beginWrite({ key: 'w/d', encryption: AGE, objectKey: objectKey('w/d'), copies: [copy('aws')] });
        await store.transitionVersion(w.file.id, 1, { from: 'pending', to: 'failed' });
        const late = await store.commitWrite({ fileId: w.file.id, version: 1, size: 1, sha256: SHA_A, copies: [stored('aws')], audit: [entry('w/d', 'aws', 1)] });
        expect(late).toMatchObject({ applied: false, version: { version: 1, state: 'failed' } });
        expect(await store.audit.head()).toBeNull();
        expect(await store.getReplica({ fileId: w.file.id, version: 1, location: 'aws' })).toMatchObject({ state: 'writing' });
        // A commit of a version that does not exist fails with its own error; the writes and
        // appends queued beside it still commit.
        const good = await store.beginWrite({ key: 'w/e', encryption: AGE, objectKey: objectKey('w/e'), copies: [copy('aws')] });
        const results = await Promise.allSettled([
          store.commitWrite({ fileId: w.file.id, version: 9, size: 1, sha256: SHA_A, copies: [stored('aws')], audit: [entry('w/d', 'aws', 9)] }),
          store.commitWrite({ fileId: good.file.id, version: 1, size: 1, sha256: SHA_A, copies: [stored('aws')], audit: [entry('w/e', 'aws', 1)] }),
          store.audit.append(sampleEntry(1)),
          store.audit.appendEvents([{ topic: 'access', key: 'aws/w/e', value: '{"end":true}' }]),
        ]);
        expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
        expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'not_found' });
        expect((results[1] as PromiseFulfilledResult<{ applied: boolean }>).value.applied).toBe(true);
        expect(await store.audit.verify()).toMatchObject({ ok: true, entries: 2 });
        expect((await store.outbox.stats()).depth).toBe(2);
        await expectCode(store.commitWrite({ fileId: good.file.id, version: 1, size: 1, sha256: 'nope', copies: [stored('aws')], audit: [] }), 'invalid_argument');
        await expectCode(store.transaction(() => store.commitWrite({ fileId: good.file.id, version: 1, size: 1, sha256: SHA_A, copies: [], audit: [] })), 'internal');
      });

      it('lets the last of 12 concurrent commits of one key win at its location, with one linear audit chain', async () => {
        const t = await target();
        const store = await t.open();
        const writers = store.features.multiProcess ? [store, await t.open()] : [store];
        const started = await Promise.all(Array.from({ length: 12 }, (_, i) => writers[i % writers.length]!.beginWrite({ key: 'w/last', encryption: AGE, objectKey: objectKey('w/last'), copies: [copy('aws')] })));
        const committed = await Promise.all(
          started.map((s, i) =>
            writers[i % writers.length]!.commitWrite({ fileId: s.file.id, version: s.version.version, size: s.version.version, sha256: SHA_A, copies: [stored('aws')], audit: [entry('w/last', 'aws', s.version.version)] }),
          ),
        );
        const applied = committed.flatMap((c) => (c.applied ? [c] : []));
        expect(applied).toHaveLength(12);
        // Exactly one copy at aws is left verified: the one whose commit came last in the chain.
        const last = applied.reduce((a, b) => (a.audit[0]!.seq > b.audit[0]!.seq ? a : b));
        const live = await store.liveReplicaAt('w/last', 'aws');
        expect(live?.version.version).toBe(last.version.version);
        expect(live?.file.currentVersion).toBe(last.version.version);
        const copies = await store.listReplicasOfFile(started[0]!.file.id);
        expect(copies.filter((r) => r.state === 'verified').map((r) => r.version)).toEqual([last.version.version]);
        expect(copies.filter((r) => r.state === 'deleted')).toHaveLength(11);
        expect(applied.flatMap((c) => c.superseded).map((r) => r.version).sort((a, b) => a - b)).toEqual(
          applied
            .map((c) => c.version.version)
            .filter((v) => v !== last.version.version)
            .sort((a, b) => a - b),
        );
        expect(await store.audit.verify()).toMatchObject({ ok: true, entries: 12 });
      });
    });

    describe('replicas', () => {
      it('applies a compare-and-set only from the expected state', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'r.bin');
        const ref: ReplicaRef = { fileId: file.id, version: 1, location: 'aws' };
        const pending = await store.upsertReplica({ ...ref, objectKey: 'r.bin' });
        expect(pending).toMatchObject({ state: 'pending', attempts: 0, verifiedAt: null, checksums: {}, storedSize: null });

        const writing = await store.transitionReplica(ref, { from: 'pending', to: 'writing', countAttempt: true });
        expect(writing).toMatchObject({ applied: true, value: { state: 'writing', attempts: 1 } });

        // A second worker still believing it is pending loses, and sees the truth.
        const stale = await store.transitionReplica(ref, { from: 'pending', to: 'writing', countAttempt: true });
        expect(stale).toMatchObject({ applied: false, current: { state: 'writing', attempts: 1 } });

        const failed = await store.transitionReplica(ref, { from: 'writing', to: 'failed', lastError: 'ECONNRESET' });
        expect(failed).toMatchObject({ applied: true, value: { state: 'failed', lastError: 'ECONNRESET' } });
        const retried = await store.transitionReplica(ref, { from: ['failed', 'pending'], to: 'writing', countAttempt: true });
        expect(retried).toMatchObject({ applied: true, value: { attempts: 2, lastError: 'ECONNRESET' } });

        const verified = await store.transitionReplica(ref, { from: 'writing', to: 'verified', storedSize: 201, checksums: { md5: 'f'.repeat(32) }, tier: 'STANDARD' });
        expect(verified.applied).toBe(true);
        const replica = await store.getReplica(ref);
        expect(replica).toMatchObject({ state: 'verified', storedSize: 201, checksums: { md5: 'f'.repeat(32) }, tier: 'STANDARD', lastError: null, attempts: 2 });
        expect(replica.verifiedAt).toBeInstanceOf(Date);
        expect(replica.updatedAt.getTime()).toBeGreaterThanOrEqual(replica.createdAt.getTime());
      });

      it('lets exactly one of many racing callers win a transition', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'race.bin');
        const ref: ReplicaRef = { fileId: file.id, version: 1, location: 'gcp' };
        await store.upsertReplica({ ...ref, objectKey: 'race.bin' });
        const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.transitionReplica(ref, { from: 'pending', to: 'writing', countAttempt: true })));
        expect(outcomes.filter((o) => o.applied)).toHaveLength(1);
        expect((await store.getReplica(ref)).attempts).toBe(1);
      });

      it('upserts one replica per (version, location) and lists them by version, file and location', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'multi.bin');
        await store.addVersion({ fileId: file.id, state: 'committed', size: 2, sha256: SHA_B, encryption: AGE });
        for (const location of ['gcp', 'aws', 'azure']) await store.upsertReplica({ fileId: file.id, version: 1, location, objectKey: `v1/${location}` });
        await store.upsertReplica({ fileId: file.id, version: 2, location: 'aws', objectKey: 'v2/aws', tier: 'STANDARD' });
        // Upserting again overwrites what is given and keeps the rest.
        const again = await store.upsertReplica({ fileId: file.id, version: 2, location: 'aws', objectKey: 'v2/aws-moved', state: 'verified' });
        expect(again).toMatchObject({ objectKey: 'v2/aws-moved', state: 'verified', tier: 'STANDARD' });
        expect(again.verifiedAt).toBeInstanceOf(Date);

        expect((await store.listReplicasOfVersion(file.id, 1)).map((r) => r.location)).toEqual(['aws', 'azure', 'gcp']);
        expect((await store.listReplicasOfFile(file.id)).map((r) => `${r.version}:${r.location}`)).toEqual(['1:aws', '1:azure', '1:gcp', '2:aws']);
        const atAws = await store.listReplicasAtLocation('aws');
        expect(atAws.items.map((r) => r.objectKey)).toEqual(['v1/aws', 'v2/aws-moved']);
        expect(atAws.nextCursor).toBeUndefined();
        expect((await store.listReplicasAtLocation('aws', { states: ['verified'] })).items.map((r) => r.version)).toEqual([2]);
        expect((await store.listReplicasAtLocation('nowhere')).items).toEqual([]);
      });
    });

    describe('transactions', () => {
      it('switches a move atomically: one replica deleted, the other verified', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'move.bin');
        const source: ReplicaRef = { fileId: file.id, version: 1, location: 'aws' };
        const destination: ReplicaRef = { fileId: file.id, version: 1, location: 'azure' };
        await store.upsertReplica({ ...source, objectKey: 'move.bin', state: 'verified' });
        await store.upsertReplica({ ...destination, objectKey: 'move.bin', state: 'writing' });

        const result = await store.transaction(async (tx) => {
          const a = await tx.transitionReplica(destination, { from: 'writing', to: 'verified' });
          const b = await tx.transitionReplica(source, { from: 'verified', to: 'deleted' });
          return [a.applied, b.applied];
        });
        expect(result).toEqual([true, true]);
        expect((await store.getReplica(source)).state).toBe('deleted');
        expect((await store.getReplica(destination)).state).toBe('verified');
      });

      it('rolls back everything when the work throws, and rethrows the same error', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'keep.bin');
        const source: ReplicaRef = { fileId: file.id, version: 1, location: 'aws' };
        const destination: ReplicaRef = { fileId: file.id, version: 1, location: 'azure' };
        await store.upsertReplica({ ...source, objectKey: 'keep.bin', state: 'verified' });
        await store.upsertReplica({ ...destination, objectKey: 'keep.bin', state: 'writing' });
        const before = await store.listReplicasOfFile(file.id);

        const boom = new Error('crash between steps');
        const thrown = await store
          .transaction(async (tx) => {
            await tx.transitionReplica(destination, { from: 'writing', to: 'verified', countAttempt: true });
            await tx.transitionReplica(source, { from: 'verified', to: 'deleted' });
            await tx.addVersion({ fileId: file.id, state: 'committed', size: 5, sha256: SHA_B, encryption: AGE });
            const { file: created } = await tx.ensureFile({ key: 'ghost.bin' });
            await tx.deleteFile(file.id);
            expect(created.key).toBe('ghost.bin');
            throw boom;
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(thrown).toBe(boom);

        expect(await store.listReplicasOfFile(file.id)).toEqual(before);
        expect(await store.findFileByKey('ghost.bin')).toBeUndefined();
        const after = await store.getFile(file.id);
        expect([after.currentVersion, after.deletedAt]).toEqual([1, null]);
        // The version counter rolled back too: no gap.
        expect((await store.addVersion({ fileId: file.id, encryption: AGE })).version).toBe(2);
      });

      it('fails fast, instead of waiting forever, when the store itself is used inside its transaction', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'inner.bin');
        await expectCode(
          store.transaction(async (tx) => {
            await tx.getFile(file.id);
            await store.getFile(file.id);
          }),
          'internal',
        );
        await expectCode(
          store.transaction(async () => store.transaction(async () => undefined)),
          'internal',
        );
        // Outside a transaction the store works as before.
        expect((await store.getFile(file.id)).key).toBe('inner.bin');
      });

      it('rolls back when a database error occurs inside, reporting it typed', async () => {
        const store = await freshStore();
        await store.createFile({ key: 'taken' });
        await expectCode(
          store.transaction(async (tx) => {
            await tx.createFile({ key: 'first-in-tx' });
            await tx.createFile({ key: 'taken' });
          }),
          'conflict',
        );
        expect(await store.findFileByKey('first-in-tx')).toBeUndefined();
      });
    });

    describe('listings', () => {
      it('pages 2500 replicas and files exactly once each, in byte order of the key', async () => {
        const store = await freshStore();
        // Prefixes chosen so byte order differs from JS string order (U+FFFD vs astral) and
        // from locale order (case, accents, spaces, LIKE wildcards).
        const prefixes = ['a', 'B', 'é', '😀', '\uFFFD', 'a b', '%_', 'z'];
        const keys = Array.from({ length: 2500 }, (_, i) => `${prefixes[i % prefixes.length]}/${String(i).padStart(5, '0')}`);
        for (let start = 0; start < keys.length; start += 250) {
          await store.transaction(async (tx) => {
            for (const key of keys.slice(start, start + 250)) {
              const { file } = await tx.ensureFile({ key });
              await tx.addVersion({ fileId: file.id, state: 'committed', size: key.length, sha256: SHA_A, encryption: AGE });
              await tx.upsertReplica({ fileId: file.id, version: 1, location: 'aws', objectKey: `obj/${key}`, state: 'verified' });
            }
          });
        }
        const expected = [...keys].sort(byBytes);

        const seen: Replica[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listReplicasAtLocation('aws', cursor === undefined ? {} : { cursor });
          seen.push(...page.items);
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined);
        expect(pages).toBe(3);
        expect(seen.map((r) => r.objectKey)).toEqual(expected.map((k) => `obj/${k}`));

        const small: string[] = [];
        cursor = undefined;
        do {
          const page = await store.listReplicasAtLocation('aws', { limit: 97, prefix: 'obj/😀', ...(cursor === undefined ? {} : { cursor }) });
          small.push(...page.items.map((r) => r.objectKey));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        expect(small).toEqual(expected.filter((k) => k.startsWith('😀')).map((k) => `obj/${k}`));

        const inventoryKeys: string[] = [];
        cursor = undefined;
        do {
          const page = await store.listInventory({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
          for (const entry of page.items) {
            expect(entry.current?.version).toBe(1);
            expect(entry.replicas.map((r) => r.location)).toEqual(['aws']);
          }
          inventoryKeys.push(...page.items.map((e) => e.file.key));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        expect(inventoryKeys).toEqual(expected);
      });

      it('filters the inventory by key prefix, location and replica state', async () => {
        const store = await freshStore();
        const a = await committedFile(store, 'docs/a');
        const b = await committedFile(store, 'docs/b');
        const c = await committedFile(store, 'img/c');
        const gone = await committedFile(store, 'docs/gone');
        const { file: draft } = await store.ensureFile({ key: 'docs/draft' });
        await store.addVersion({ fileId: draft.id, encryption: AGE });
        await store.upsertReplica({ fileId: a.id, version: 1, location: 'aws', objectKey: 'docs/a', state: 'verified' });
        await store.upsertReplica({ fileId: a.id, version: 1, location: 'azure', objectKey: 'docs/a', state: 'failed' });
        await store.upsertReplica({ fileId: b.id, version: 1, location: 'aws', objectKey: 'docs/b', state: 'pending' });
        await store.upsertReplica({ fileId: c.id, version: 1, location: 'gcp', objectKey: 'img/c', state: 'verified' });
        await store.upsertReplica({ fileId: draft.id, version: 1, location: 'aws', objectKey: 'docs/draft', state: 'writing' });
        await store.upsertReplica({ fileId: gone.id, version: 1, location: 'aws', objectKey: 'docs/gone', state: 'verified' });
        await store.deleteFile(gone.id);

        const keys = async (query: Parameters<MetadataStore['listInventory']>[0]) => (await store.listInventory(query)).items.map((e) => e.file.key);
        expect(await keys({})).toEqual(['docs/a', 'docs/b', 'docs/draft', 'img/c']);
        expect(await keys({ prefix: 'docs/' })).toEqual(['docs/a', 'docs/b', 'docs/draft']);
        expect(await keys({ prefix: 'docs/', includeDeleted: true })).toEqual(['docs/a', 'docs/b', 'docs/draft', 'docs/gone']);
        // Only copies of committed versions count: the draft has none.
        expect(await keys({ location: 'aws' })).toEqual(['docs/a', 'docs/b']);
        expect(await keys({ location: 'aws', replicaStates: ['verified'] })).toEqual(['docs/a']);
        expect(await keys({ replicaStates: ['failed'] })).toEqual(['docs/a']);
        expect(await keys({ location: 'azure', replicaStates: ['verified'] })).toEqual([]);
        expect(await keys({ location: 'gcp', prefix: 'img/' })).toEqual(['img/c']);
        // The caller's locations bound the listing before paging: nothing of gcp for an aws caller.
        expect(await keys({ locations: ['aws'] })).toEqual(['docs/a', 'docs/b']);
        expect(await keys({ locations: ['gcp'] })).toEqual(['img/c']);
        expect(await keys({ locations: [] })).toEqual([]);
        const awsOnly = await store.listInventory({ locations: ['aws'], limit: 1 });
        expect(awsOnly.items.map((e) => e.replicas.map((r) => r.location))).toEqual([['aws']]);
        expect((await store.listInventory({ locations: ['aws'], cursor: awsOnly.nextCursor! })).items.map((e) => e.file.key)).toEqual(['docs/b']);

        const [entryA, entryDraft] = (await store.listInventory({ prefix: 'docs/', limit: 3 })).items.filter((e) => e.file.key !== 'docs/b');
        expect(entryA?.current).toMatchObject({ version: 1, state: 'committed' });
        expect(entryA?.replicas.map((r) => `${r.location}:${r.state}`)).toEqual(['aws:verified', 'azure:failed']);
        expect(entryDraft).toMatchObject({ current: null, replicas: [], versions: [] });

        // A newer committed version becomes current; each location keeps the copy it holds (stale).
        await store.addVersion({ fileId: a.id, state: 'committed', size: 9, sha256: SHA_B, encryption: AGE });
        const [newer] = (await store.listInventory({ prefix: 'docs/a' })).items;
        expect(newer).toMatchObject({ current: { version: 2, size: 9 } });
        expect(newer?.replicas.map((r) => `${r.location}:v${r.version}`)).toEqual(['aws:v1', 'azure:v1']);
        expect(newer?.versions.map((v) => v.version)).toEqual([1, 2]);
        expect(await keys({ location: 'aws', replicaStates: ['verified'] })).toEqual(['docs/a']);

        await expectCode(store.listInventory({ cursor: 'not-a-cursor' }), 'invalid_cursor');
        const page = await store.listReplicasAtLocation('aws', { limit: 1 });
        await expectCode(store.listInventory({ cursor: page.nextCursor ?? '' }), 'invalid_cursor');
        await expectCode(store.listInventory({ limit: 0 }), 'invalid_argument');
      });

      it('sorts the inventory by key, size or last change either way, searches keys and filters by tier, with keyset cursors', async () => {
        const store = await freshStore();
        const sizes: Record<string, number> = { 'a/Report.CSV': 30, 'a/notes.txt': 10, 'b/report-2.csv': 20, 'b/photo.jpg': 40, 'c/100%_done': 25 };
        const ids: Record<string, string> = {};
        for (const [key, size] of Object.entries(sizes)) {
          const { file } = await store.ensureFile({ key });
          ids[key] = file.id;
          await store.addVersion({ fileId: file.id, state: 'committed', size, sha256: SHA_A, encryption: AGE });
          await store.upsertReplica({ fileId: file.id, version: 1, location: key.startsWith('b/') ? 'azure' : 'aws', objectKey: key, state: 'verified', ...(key.endsWith('.jpg') ? { tier: 'Cool' } : {}) });
        }
        const { file: draft } = await store.ensureFile({ key: 'a/draft' });
        await store.addVersion({ fileId: draft.id, encryption: AGE });
        type Query = NonNullable<Parameters<MetadataStore['listInventory']>[0]>;
        /** Every key of the listing, a page of `limit` at a time through the cursors. */
        const all = async (query: Query, limit = 2): Promise<string[]> => {
          const out: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.listInventory({ ...query, limit, ...(cursor === undefined ? {} : { cursor }) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            out.push(...page.items.map((e) => e.file.key));
            cursor = page.nextCursor;
          } while (cursor !== undefined);
          return out;
        };
        const bySize = Object.entries(sizes).sort((x, y) => x[1] - y[1]).map(([k]) => k);
        expect(await all({ sort: 'size' })).toEqual(bySize);
        expect(await all({ sort: 'size', order: 'desc' })).toEqual([...bySize].reverse());
        expect(await all({ sort: 'key', order: 'desc' }, 3)).toEqual([...Object.keys(sizes), 'a/draft'].sort().reverse());
        expect(await all({ sort: 'key' }, 1)).toEqual([...Object.keys(sizes), 'a/draft'].sort());
        // Last change: the newest write first; a new version moves a file to the front.
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.addVersion({ fileId: ids['a/notes.txt']!, state: 'committed', size: 50, sha256: SHA_B, encryption: AGE });
        const byChange = await all({ sort: 'updated_at', order: 'desc', locations: ['aws', 'azure'] });
        expect(byChange[0]).toBe('a/notes.txt');
        expect([...byChange].sort()).toEqual(Object.keys(sizes).sort());
        expect(await all({ sort: 'updated_at', locations: ['aws', 'azure'] })).toEqual([...byChange].reverse());
        // The size followed the new current version.
        expect((await all({ sort: 'size', order: 'desc' }))[0]).toBe('a/notes.txt');
        // Search: a substring of the key, ASCII case ignored; % and _ are literal characters.
        expect(await all({ search: 'report' })).toEqual(['a/Report.CSV', 'b/report-2.csv']);
        expect(await all({ search: 'REPORT', sort: 'size' })).toEqual(['b/report-2.csv', 'a/Report.CSV']);
        expect(await all({ search: '%_' })).toEqual(['c/100%_done']);
        expect(await all({ search: '_' })).toEqual(['c/100%_done']);
        expect(await all({ search: 'nothing-like-it' })).toEqual([]);
        expect(await all({ search: 'csv', locations: ['aws'] })).toEqual(['a/Report.CSV']);
        // Tier: per location, the names that mean it (null: none recorded, the default).
        expect(await all({ replicaTiers: [{ location: 'azure', tiers: ['Cool'] }] })).toEqual(['b/photo.jpg']);
        expect(await all({ replicaTiers: [{ location: 'azure', tiers: [null] }] })).toEqual(['b/report-2.csv']);
        expect(await all({ replicaTiers: [{ location: 'aws', tiers: [null] }, { location: 'azure', tiers: ['Cool'] }], sort: 'size' })).toEqual(['c/100%_done', 'a/Report.CSV', 'b/photo.jpg', 'a/notes.txt']);
        expect(await all({ replicaTiers: [{ location: 'aws', tiers: ['Cool'] }] })).toEqual([]);
        expect(await all({ replicaTiers: [{ location: 'aws', tiers: [] }] })).toEqual([]);
        // A cursor is valid only with the sort and order it was made with.
        const sized = await store.listInventory({ sort: 'size', limit: 1 });
        await expectCode(store.listInventory({ sort: 'size', order: 'desc', cursor: sized.nextCursor! }), 'invalid_cursor');
        await expectCode(store.listInventory({ cursor: sized.nextCursor! }), 'invalid_cursor');
        const keyed = await store.listInventory({ limit: 1 });
        await expectCode(store.listInventory({ sort: 'size', cursor: keyed.nextCursor! }), 'invalid_cursor');
        await expectCode(store.listInventory({ search: 'x'.repeat(257) }), 'invalid_argument');
        await expectCode(store.listInventory({ sort: 'colour' as 'key' }), 'invalid_argument');
      });

      it("lists one object's audit entries at given locations, newest first, and each key's latest tier decision", async () => {
        const store = await freshStore();
        for (const [i, location] of ['aws', 'azure', 'aws', 'gcp', 'aws'].entries()) {
          await store.audit.append({ principal: 'p', action: 'write', outcome: 'allowed', location, objectKey: i === 2 ? 'other' : 'k/one', keyId: null, sha256: null, details: { i } });
        }
        const trail = await store.audit.forObject({ key: 'k/one', locations: ['aws', 'azure'] });
        expect(trail.map((e) => e.details['i'])).toEqual([4, 1, 0]);
        expect((await store.audit.forObject({ key: 'k/one', locations: ['aws'], limit: 1 })).map((e) => e.details['i'])).toEqual([4]);
        expect(await store.audit.forObject({ key: 'k/one', locations: [] })).toEqual([]);

        const file = await committedFile(store, 'k/one');
        const decision = (location: string, key: string, toTier: string) => ({
          runId: 'run-1', location, key, fileId: file.id, version: 1, kind: 'tier' as const, fromTier: 'hot', toTier, toLocation: location, proposed: toTier,
          confidence: 0.75, modelVersion: null, inputs: {}, rules: [], expectedMonthlySaving: 0.5, moveCost: 0.01, state: 'dry_run' as const, createdBy: 'system',
        });
        await store.tiering.recordDecisions([decision('aws', 'k/one', 'cool'), decision('azure', 'k/one', 'cold')]);
        await store.tiering.recordDecisions([decision('aws', 'k/one', 'archive'), decision('aws', 'k/two', 'cool')]);
        const latest = await store.tiering.latestDecisions([
          { location: 'aws', key: 'k/one' },
          { location: 'azure', key: 'k/one' },
          { location: 'gcp', key: 'k/one' },
        ]);
        expect(latest.map((d) => `${d.location}:${d.key}:${d.toTier}:${d.confidence}`)).toEqual(['aws:k/one:archive:0.75', 'azure:k/one:cold:0.75']);
        expect(await store.tiering.latestDecisions([])).toEqual([]);
      });

      it('summarizes live copies and their bytes by location, state and tier (committed versions of live files only)', async () => {
        const store = await freshStore();
        const a = await committedFile(store, 'sum/a');
        const b = await committedFile(store, 'sum/b');
        const gone = await committedFile(store, 'sum/gone');
        const { file: draft } = await store.ensureFile({ key: 'sum/draft' });
        await store.addVersion({ fileId: draft.id, encryption: AGE });
        await store.upsertReplica({ fileId: a.id, version: 1, location: 'aws', objectKey: 'sum/a', state: 'verified', storedSize: 100, tier: 'STANDARD' });
        await store.upsertReplica({ fileId: b.id, version: 1, location: 'aws', objectKey: 'sum/b', state: 'verified', storedSize: 50, tier: 'STANDARD' });
        await store.upsertReplica({ fileId: a.id, version: 1, location: 'azure', objectKey: 'sum/a', state: 'pending' });
        await store.upsertReplica({ fileId: draft.id, version: 1, location: 'aws', objectKey: 'sum/draft', state: 'writing' });
        await store.upsertReplica({ fileId: gone.id, version: 1, location: 'aws', objectKey: 'sum/gone', state: 'verified' });
        await store.deleteFile(gone.id);

        const rows = await store.summarizeInventory();
        expect(rows).toEqual([
          { location: 'aws', state: 'verified', tier: 'STANDARD', objects: 2, bytes: 2, storedBytes: 150 },
          { location: 'azure', state: 'pending', tier: null, objects: 1, bytes: 1, storedBytes: 0 },
        ]);
        expect(await store.summarizeInventory({ locations: ['azure'] })).toEqual([rows[1]]);
        expect(await store.summarizeInventory({ locations: [] })).toEqual([]);
        await expectCode(store.summarizeInventory({ locations: [''] }), 'invalid_argument');
      });
    });

    describe('values', () => {
      it('round-trips sizes up to 2^53-1, dates and JSON exactly, before and after re-opening', async () => {
        const t = await target();
        let store = await t.open();
        const startedAt = Date.now();
        const key = 'dir/ünïcødé 😀 +%.txt';
        const encryption: EncryptionDescriptor = {
          format: 'age',
          keyIds: ['age1xyz', 'kms:netapp-key'],
          params: { chunkSize: 65536, nested: { list: [1, 'two', null, true, 2.5] }, unicode: 'é😀' },
        };
        const { file } = await store.ensureFile({ key, contentType: 'text/plain; charset=utf-8' });
        const version = await store.addVersion({
          fileId: file.id,
          state: 'committed',
          size: Number.MAX_SAFE_INTEGER,
          sha256: 'ABCDEF'.padEnd(64, '0'),
          encryption,
          metadata: { 'x-owner': 'Zoë', empty: '' },
          writtenBy: 'token:ci',
          contentType: 'text/plain; charset=utf-8',
        });
        const empty = await store.addVersion({ fileId: file.id, state: 'committed', size: 0, sha256: SHA_A, encryption: { format: 'none', keyIds: [] } });
        const replica = await store.upsertReplica({
          fileId: file.id,
          version: 1,
          location: 'aws',
          objectKey: key,
          state: 'verified',
          storedSize: Number.MAX_SAFE_INTEGER,
          checksums: { md5: '0'.repeat(32), crc32c: 'deadbeef', sha256: SHA_B, etag: '"abc-2"' },
          tier: 'STANDARD_IA',
          encryption: { format: 'age', keyIds: ['age1recipient'] },
        });
        const finishedAt = Date.now();

        expect(version).toEqual({
          fileId: file.id,
          version: 1,
          state: 'committed',
          size: Number.MAX_SAFE_INTEGER,
          sha256: 'abcdef'.padEnd(64, '0'),
          encryption,
          metadata: { 'x-owner': 'Zoë', empty: '' },
          writtenBy: 'token:ci',
          contentType: 'text/plain; charset=utf-8',
          createdAt: version.createdAt,
          updatedAt: version.updatedAt,
        });
        expect(empty).toMatchObject({ size: 0, encryption: { format: 'none', keyIds: [] }, metadata: {}, writtenBy: null, contentType: null });
        for (const date of [file.createdAt, version.createdAt, replica.createdAt, replica.verifiedAt]) {
          expect(date).toBeInstanceOf(Date);
          // The database clock is this machine's (or close to it); allow for clock skew.
          expect(Math.abs((date?.getTime() ?? 0) - (startedAt + finishedAt) / 2)).toBeLessThan(60_000);
        }
        expect(replica).toMatchObject({
          storedSize: Number.MAX_SAFE_INTEGER,
          checksums: { md5: '0'.repeat(32), crc32c: 'deadbeef', sha256: SHA_B, etag: '"abc-2"' },
          encryption: { format: 'age', keyIds: ['age1recipient'] },
        });
        expect(typeof replica.storedSize).toBe('number');

        // Every read path returns the very same values, also after a restart.
        const snapshot = async (s: MetadataStore) => ({
          file: await s.getFile(file.id),
          byKey: await s.findFileByKey(key),
          versions: await s.listVersions(file.id),
          replica: await s.getReplica({ fileId: file.id, version: 1, location: 'aws' }),
          inventory: (await s.listInventory()).items,
        });
        const before = await snapshot(store);
        expect(before.versions).toEqual([version, empty]);
        expect(before.replica).toEqual(replica);
        await store.close();
        store = await t.open();
        expect(await snapshot(store)).toEqual(before);

        await expectCode(store.addVersion({ fileId: file.id, size: 2 ** 53, encryption: AGE }), 'invalid_argument');
        await expectCode(store.addVersion({ fileId: file.id, size: -1, encryption: AGE }), 'invalid_argument');
      });
    });

    describe('principals', () => {
      it('keeps names and token hashes unique, and finds only live principals by token hash', async () => {
        const store = await freshStore();
        const alice = await store.principals.create({ name: 'alice', roles: ['analytics', 'admin', 'analytics'], tokenHash: tokenHash('token-a') });
        expect(alice).toMatchObject({ name: 'alice', roles: ['admin', 'analytics'], tokenHash: tokenHash('token-a'), revokedAt: null, lastUsedAt: null });
        expect(alice.createdAt).toBeInstanceOf(Date);
        const bob = await store.principals.create({ name: 'bob@ops', roles: [], tokenHash: tokenHash('token-b').toUpperCase() });
        expect(bob.tokenHash).toBe(tokenHash('token-b'));

        await expectCode(store.principals.create({ name: 'alice', roles: ['operations'], tokenHash: tokenHash('token-c') }), 'conflict');
        await expectCode(store.principals.create({ name: 'carol', roles: [], tokenHash: tokenHash('token-a') }), 'conflict');

        expect(await store.principals.findByTokenHash(tokenHash('token-a'))).toEqual(alice);
        expect(await store.principals.findByTokenHash(tokenHash('token-b'))).toEqual(bob);
        expect(await store.principals.findByTokenHash(tokenHash('nobody'))).toBeUndefined();
        expect(await store.principals.findByName('alice')).toEqual(alice);
        expect(await store.principals.findByName('zed')).toBeUndefined();
        expect((await store.principals.list()).map((p) => p.name)).toEqual(['alice', 'bob@ops']);

        const revoked = await store.principals.revoke('alice');
        expect(revoked.revokedAt).toBeInstanceOf(Date);
        expect(await store.principals.findByTokenHash(tokenHash('token-a'))).toBeUndefined();
        expect((await store.principals.findByName('alice'))?.revokedAt).toEqual(revoked.revokedAt);
        expect((await store.principals.revoke('alice')).revokedAt).toEqual(revoked.revokedAt);
        await expectCode(store.principals.revoke('nobody'), 'not_found');
        // A revoked name stays taken: audit entries naming it keep meaning one principal.
        await expectCode(store.principals.create({ name: 'alice', roles: [], tokenHash: tokenHash('token-d') }), 'conflict');
        expect((await store.principals.list()).map((p) => [p.name, p.revokedAt === null])).toEqual([
          ['alice', false],
          ['bob@ops', true],
        ]);

        await expectCode(store.principals.create({ name: 'has space', roles: [], tokenHash: tokenHash('x') }), 'invalid_argument');
        await expectCode(store.principals.create({ name: 'ok', roles: ['bad role'], tokenHash: tokenHash('x') }), 'invalid_argument');
        await expectCode(store.principals.create({ name: 'ok', roles: [], tokenHash: 'not-a-hash' }), 'invalid_argument');
        await expectCode(store.principals.findByTokenHash('secret-token-itself'), 'invalid_argument');
      });

      it('keepOne: concurrent revocations of the last two admins leave one, every round; a non-holder is revoked freely', async () => {
        const store = await freshStore();
        await store.principals.create({ name: 'reader', roles: ['analytics'], tokenHash: tokenHash('reader') });
        for (let round = 0; round < 10; round += 1) {
          const [a, b] = [`admin-a${round}`, `admin-b${round}`];
          await store.principals.create({ name: a, roles: ['admin'], tokenHash: tokenHash(a) });
          await store.principals.create({ name: b, roles: ['admin', 'operations'], tokenHash: tokenHash(b) });
          // The previous round's survivor goes first, leaving exactly a and b.
          const previous = (await store.principals.list()).filter((p) => p.revokedAt === null && p.roles.includes('admin') && p.name !== a && p.name !== b);
          for (const p of previous) await store.principals.revoke(p.name, { keepOne: 'admin' });
          const outcomes = await Promise.allSettled([store.principals.revoke(a, { keepOne: 'admin' }), store.principals.revoke(b, { keepOne: 'admin' })]);
          expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
          const refused = outcomes.find((o) => o.status === 'rejected');
          expect((refused as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
          const live = (await store.principals.list()).filter((p) => p.revokedAt === null && p.roles.includes('admin'));
          expect(live).toHaveLength(1);
        }
        expect((await store.principals.revoke('reader', { keepOne: 'admin' })).revokedAt).toBeInstanceOf(Date);
      });

      it('replaces a token hash and roles, reinstates a revoked principal, and touches lastUsedAt at most once a minute', async () => {
        const store = await freshStore();
        const admin = await store.principals.create({ name: 'admin', roles: ['admin'], tokenHash: tokenHash('old') });
        await store.principals.create({ name: 'other', roles: [], tokenHash: tokenHash('other') });

        const rotated = await store.principals.update('admin', { tokenHash: tokenHash('new'), roles: ['system', 'admin'] });
        expect(rotated).toMatchObject({ id: admin.id, roles: ['admin', 'system'], tokenHash: tokenHash('new') });
        expect(await store.principals.findByTokenHash(tokenHash('old'))).toBeUndefined();
        expect((await store.principals.findByTokenHash(tokenHash('new')))?.name).toBe('admin');
        expect(await store.principals.update('admin', {})).toEqual(rotated);

        await store.principals.revoke('admin');
        expect(await store.principals.findByTokenHash(tokenHash('new'))).toBeUndefined();
        // Changing roles alone does not bring a revoked principal back ...
        expect((await store.principals.update('admin', { roles: ['admin'] })).revokedAt).toBeInstanceOf(Date);
        // ... reinstating does.
        expect((await store.principals.update('admin', { reinstate: true })).revokedAt).toBeNull();
        expect((await store.principals.findByTokenHash(tokenHash('new')))?.name).toBe('admin');

        await expectCode(store.principals.update('nobody', { roles: [] }), 'not_found');
        await expectCode(store.principals.update('admin', { tokenHash: tokenHash('other') }), 'conflict');

        await store.principals.touch(admin.id);
        const touched = (await store.principals.findByName('admin'))?.lastUsedAt;
        expect(touched).toBeInstanceOf(Date);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await store.principals.touch(admin.id);
        expect((await store.principals.findByName('admin'))?.lastUsedAt).toEqual(touched);
        await store.principals.touch('not-an-id');
        await store.principals.touch('999999');
      });
    });

    describe('audit', () => {
      it('chains entries from the genesis hash, lists them by seq and verifies, also after re-opening', async () => {
        const t = await target();
        let store = await t.open();
        expect(await store.audit.head()).toBeNull();
        expect(await store.audit.list()).toEqual([]);
        expect(await store.audit.verify()).toEqual({ ok: true, entries: 0, head: null });

        const startedAt = Date.now();
        const first = await store.audit.append({
          principal: 'alice',
          action: 'write',
          outcome: 'allowed',
          location: 'aws',
          objectKey: 'dir/ünïcødé 😀.txt',
          keyId: 'age1xyz',
          sha256: 'ABCDEF'.padEnd(64, '0'),
          details: { size: 12, ratio: 0.1 + 0.2, big: 1e21, tiny: 1.5e-7, nested: { z: [1, 'two', null, true], a: 'é😀' }, empty: {} },
        });
        expect(first).toMatchObject({
          seq: 1,
          principal: 'alice',
          action: 'write',
          outcome: 'allowed',
          location: 'aws',
          objectKey: 'dir/ünïcødé 😀.txt',
          keyId: 'age1xyz',
          sha256: 'abcdef'.padEnd(64, '0'),
          prevHash: GENESIS_HASH,
        });
        expect(Math.abs(first.at.getTime() - startedAt)).toBeLessThan(60_000);
        expect(first.hash).toBe(auditEntryHash(GENESIS_HASH, first));
        const rest = await appendSamples(store, 4);
        const all = [first, ...rest];
        expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        for (let i = 1; i < all.length; i += 1) {
          expect(all[i]?.prevHash).toBe(all[i - 1]?.hash);
          expect(all[i]?.at.getTime()).toBeGreaterThanOrEqual(all[i - 1]?.at.getTime() ?? 0);
        }
        const minimal = await store.audit.append({ principal: 'system', action: 'policy', outcome: 'error' });
        expect(minimal).toMatchObject({ seq: 6, location: null, objectKey: null, keyId: null, sha256: null, details: {} });
        all.push(minimal);

        expect(await store.audit.list()).toEqual(all);
        expect(await store.audit.list({ afterSeq: 2, limit: 2 })).toEqual(all.slice(2, 4));
        expect(await store.audit.list({ afterSeq: 6 })).toEqual([]);
        const streamed: AuditEntry[] = [];
        for await (const entry of store.audit.entries({ pageSize: 4 })) streamed.push(entry);
        expect(streamed).toEqual(all);
        const tail: AuditEntry[] = [];
        for await (const entry of store.audit.entries({ afterSeq: 4, pageSize: 1 })) tail.push(entry);
        expect(tail.map((e) => e.seq)).toEqual([5, 6]);
        expect(await store.audit.head()).toEqual({ seq: 6, hash: minimal.hash });
        expect(await store.audit.verify({ pageSize: 4 })).toEqual({ ok: true, entries: 6, head: { seq: 6, hash: minimal.hash } });

        await store.close();
        store = await t.open();
        expect(await store.audit.list()).toEqual(all);
        expect(await store.audit.verify({ pageSize: 2 })).toEqual({ ok: true, entries: 6, head: { seq: 6, hash: minimal.hash } });
        expect((await store.audit.append(sampleEntry(7))).prevHash).toBe(minimal.hash);
      });

      it('refuses malformed entries with stable codes and chains nothing for them', async () => {
        const store = await freshStore();
        const base: NewAuditEntry = { principal: 'alice', action: 'read', outcome: 'allowed' };
        await expectCode(store.audit.append({ ...base, outcome: 'maybe' as 'allowed' }), 'invalid_argument');
        await expectCode(store.audit.append({ ...base, action: 'Drop Table' }), 'invalid_argument');
        await expectCode(store.audit.append({ ...base, principal: '' }), 'invalid_argument');
        await expectCode(store.audit.append({ ...base, sha256: 'xyz' }), 'invalid_argument');
        await expectCode(store.audit.append({ ...base, objectKey: 'nul\0' }), 'invalid_key');
        await expectCode(store.audit.append({ ...base, details: [] as unknown as Record<string, never> }), 'invalid_argument');
        await expectCode(store.audit.append({ ...base, details: { when: new Date() as unknown as string } }), 'invalid_argument');
        await expectCode(store.audit.append({ ...base, details: { blob: 'x'.repeat(17 * 1024) } }), 'invalid_argument');
        await expectCode(store.audit.list({ afterSeq: -1 }), 'invalid_argument');
        await expectCode(store.audit.list({ limit: 10_001 }), 'invalid_argument');
        expect((await store.audit.append(base)).seq).toBe(1);
      });

      it('keeps one linear chain under 50 concurrent appends (and two stores at once where several processes may share it)', async () => {
        const t = await target();
        const store = await t.open();
        const others = store.features.multiProcess ? [await t.open(), await t.open()] : [];
        const writers = [store, ...others];
        const appended = await Promise.all(Array.from({ length: 50 }, (_, i) => (writers[i % writers.length] ?? store).audit.append(sampleEntry(i))));
        expect(appended.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(new Set(appended.map((e) => e.prevHash)).size).toBe(50);
        const verification = await store.audit.verify({ pageSize: 7 });
        expect(verification).toMatchObject({ ok: true, entries: 50, head: { seq: 50 } });
        expect(verification.problem).toBeUndefined();
      });

      const tamperer = options.auditTamperer;
      const tamperTest = tamperer === undefined ? it.skip : it;

      /** A store with `count` entries, verified intact before the test tampers with it. */
      async function loggedStore(count: number): Promise<{ store: MetadataStore; entries: AuditEntry[] }> {
        const store = await freshStore();
        const entries = await appendSamples(store, count);
        expect((await store.audit.verify()).ok).toBe(true);
        return { store, entries };
      }

      tamperTest('names the first edited entry, whichever field was changed', async () => {
        const tamper = tamperer!;
        const { store, entries } = await loggedStore(8);
        await tamper.edit(store, 5, 'principal', 'mallory');
        expect(await store.audit.verify({ pageSize: 3 })).toEqual({
          ok: false,
          entries: 4,
          head: { seq: 4, hash: entries[3]?.hash },
          problem: { seq: 5, kind: 'edited', message: expect.stringContaining('entry 5') as string },
        });
        await tamper.edit(store, 3, 'details', JSON.stringify({ i: 3, request: 'req-3', extra: true }));
        expect((await store.audit.verify()).problem).toMatchObject({ seq: 3, kind: 'edited' });
        await tamper.edit(store, 2, 'outcome', 'denied');
        expect((await store.audit.verify()).problem).toMatchObject({ seq: 2, kind: 'edited' });
        await tamper.edit(store, 1, 'prev_hash', 'f'.repeat(64));
        expect((await store.audit.verify()).problem).toMatchObject({ seq: 1, kind: 'edited' });
      });

      tamperTest('names a deleted middle entry', async () => {
        const tamper = tamperer!;
        const { store } = await loggedStore(8);
        await tamper.remove(store, 4);
        expect((await store.audit.verify({ pageSize: 3 })).problem).toEqual({ seq: 4, kind: 'deleted_or_inserted', message: expect.stringContaining('entry 4 is missing') as string });
        await tamper.remove(store, 1);
        expect(await store.audit.verify()).toMatchObject({ ok: false, entries: 0, head: null, problem: { seq: 1, kind: 'deleted_or_inserted' } });
      });

      tamperTest('names swapped entries as reordered, next to each other or pages apart', async () => {
        const tamper = tamperer!;
        const near = await loggedStore(8);
        await tamper.swap(near.store, 3, 4);
        expect(await near.store.audit.verify()).toMatchObject({ ok: false, entries: 2, problem: { seq: 3, kind: 'reordered' } });

        const far = await loggedStore(9);
        await tamper.swap(far.store, 2, 8);
        expect((await far.store.audit.verify({ pageSize: 2 })).problem).toMatchObject({ seq: 2, kind: 'reordered', message: expect.stringContaining('seq 7') as string });
      });

      tamperTest('catches a rewrite with a recomputed hash at the next link; only an anchored head exposes a cut tail', async () => {
        const tamper = tamperer!;
        const { store } = await loggedStore(6);
        await tamper.rewrite(store, 3, 'mallory');
        expect((await store.audit.verify()).problem).toMatchObject({ seq: 3, kind: 'edited' });

        // What a hash chain cannot see on its own: the newest entries cut off leave a valid,
        // shorter chain. The head an operator recorded earlier no longer matches.
        const other = await loggedStore(6);
        const anchored = (await other.store.audit.verify()).head;
        await tamper.truncateTail(other.store, 2);
        const after = await other.store.audit.verify();
        expect(after).toMatchObject({ ok: true, entries: 4 });
        expect(after.head).not.toEqual(anchored);
        const stillThere = await other.store.audit.list({ afterSeq: (anchored?.seq ?? 1) - 1, limit: 1 });
        expect(stillThere).toEqual([]);
      });
    });

    describeJobQueueConformance(target);

    describe('consistency reports', () => {
      it('keeps the latest report per location, and the last clean scan across scans with drift', async () => {
        const store = await freshStore();
        expect(await store.consistency.latest()).toEqual([]);
        const clean = await store.consistency.save('aws', { drift: { missing: 0 }, objects: 3 }, true);
        expect(clean.lastCleanAt).toBeInstanceOf(Date);
        await store.consistency.save('gcp', { drift: { missing: 2 } }, false);
        await new Promise((r) => setTimeout(r, 5));
        const dirty = await store.consistency.save('aws', { drift: { missing: 1 }, objects: 3 }, false);
        expect(dirty.report).toEqual({ drift: { missing: 1 }, objects: 3 });
        expect(dirty.lastCleanAt?.getTime()).toBe(clean.lastCleanAt?.getTime());
        expect(dirty.finishedAt.getTime()).toBeGreaterThanOrEqual(clean.finishedAt.getTime());
        const latest = await store.consistency.latest();
        expect(latest.map((r) => [r.location, r.lastCleanAt === null])).toEqual([
          ['aws', false],
          ['gcp', true],
        ]);
        const again = await store.consistency.save('gcp', { drift: { missing: 0 } }, true);
        expect(again.lastCleanAt).not.toBeNull();
        await expect(store.consistency.save('', {}, true)).rejects.toMatchObject({ code: 'invalid_argument' });
      });
    });

    describe('errors', () => {
      it('reports not_found, conflict and bad input with stable codes', async () => {
        const store = await freshStore();
        const file = await committedFile(store, 'e.txt');
        await expectCode(store.getFile('999999'), 'not_found');
        await expectCode(store.getFile('not-an-id'), 'not_found');
        await expectCode(store.getVersion(file.id, 7), 'not_found');
        await expectCode(store.addVersion({ fileId: '424242', encryption: AGE }), 'not_found');
        await expectCode(store.getReplica({ fileId: file.id, version: 1, location: 'aws' }), 'not_found');
        await expectCode(store.transitionReplica({ fileId: file.id, version: 1, location: 'aws' }, { from: 'pending', to: 'writing' }), 'not_found');
        await expectCode(store.transitionVersion(file.id, 9, { from: 'pending', to: 'failed' }), 'not_found');
        await expectCode(store.upsertReplica({ fileId: file.id, version: 9, location: 'aws', objectKey: 'x' }), 'not_found');
        await expectCode(store.createFile({ key: 'e.txt' }), 'conflict');

        await expectCode(store.createFile({ key: '' }), 'invalid_key');
        await expectCode(store.createFile({ key: 'x'.repeat(1025) }), 'invalid_key');
        await expectCode(store.createFile({ key: 'nul\0byte' }), 'invalid_key');
        expect((await store.createFile({ key: 'é'.repeat(512) })).key).toBe('é'.repeat(512)); // exactly 1024 bytes
        await expectCode(store.addVersion({ fileId: file.id, sha256: 'xyz', encryption: AGE }), 'invalid_argument');
        await expectCode(store.addVersion({ fileId: file.id, state: 'committed', encryption: AGE }), 'invalid_argument');
        await expectCode(store.transitionVersion(file.id, 1, { from: [], to: 'failed' }), 'invalid_argument');
        await expectCode(store.listReplicasAtLocation('aws', { limit: 10_001 }), 'invalid_argument');
      });
    });
  });
}
