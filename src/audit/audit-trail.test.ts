import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MovingDataError } from '../errors.ts';
import { GENESIS_HASH, canonicalJson, type AuditLog, type JsonObject, type MetadataStore } from '../metadata/index.ts';
import { openPgliteStore } from '../metadata/pglite/pglite-store.ts';
import { AuditTrail } from './audit-trail.ts';

const SHA = 'c'.repeat(64);

/** A log whose every append fails with `error`. */
function failingLog(error: Error): AuditLog {
  const fail = async () => Promise.reject(error);
  return {
    append: fail,
    appendEvents: fail,
    list: fail,
    forObject: fail,
    head: fail,
    verify: fail,
    entries: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }),
  };
}

describe('audit trail when the log cannot be written', () => {
  it('refuses the operation with a retryable unavailable that says why, whatever the log threw', async () => {
    for (const cause of [new MovingDataError('unavailable', 'metadata appendAudit: connection refused'), new Error('socket hang up')]) {
      const trail = new AuditTrail(failingLog(cause));
      const err = await trail.read({ principal: 'analyst', location: 'aws', objectKey: 'k' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MovingDataError);
      expect(err).toMatchObject({ code: 'unavailable', retryable: true, message: 'the audit trail could not record this read, so it was refused; try again later', cause });
    }
  });

  it('passes the caller’s own input errors through unchanged', async () => {
    const bad = new MovingDataError('invalid_key', 'objectKey contains a NUL character');
    const trail = new AuditTrail(failingLog(bad));
    const err = await trail.record(trail.writeEntry({ principal: 'p', location: 'aws', objectKey: 'x' })).catch((e: unknown) => e);
    expect(err).toBe(bad);
  });
});

describe('audit trail on a real store', () => {
  let store: MetadataStore;
  let trail: AuditTrail;
  beforeAll(async () => {
    store = await openPgliteStore({ inMemory: true });
    trail = new AuditTrail(store.audit);
  });
  afterAll(async () => store?.close());

  it('records every kind of event with principal, time, location, key id and checksum, and exports lines anyone can re-verify', async () => {
    await trail.record(trail.writeEntry({ principal: 'analyst', location: 'aws', objectKey: 'a.csv', keyId: 'age1aws', sha256: SHA, details: { size: 3 } }));
    await trail.read({ principal: 'analyst', location: 'aws', objectKey: 'a.csv', keyId: 'age1aws', sha256: SHA });
    await trail.move({ principal: 'system', location: 'aws', to: 'gcp', objectKey: 'a.csv', keyId: 'age1gcp', sha256: SHA });
    await trail.keyUse({ principal: 'system', location: 'gcp', keyId: 'age1gcp', purpose: 'wrap', objectKey: 'a.csv' });
    await trail.delete({ principal: 'admin', location: 'aws', objectKey: 'a.csv', outcome: 'error', details: { code: 'unavailable' } });
    await trail.denied({ principal: 'ops', attempted: 'read', reason: 'role_not_allowed', location: 'gcp', objectKey: 'a.csv' });
    await trail.policy({ principal: 'system', decision: 'tier:cold', location: 'gcp', objectKey: 'a.csv', details: { confidence: 0.93 } });
    await trail.tokenCreated({ principal: 'admin', name: 'ci', roles: ['analytics'] });
    await trail.tokenRevoked({ principal: 'admin', name: 'ci' });
    await trail.exported({ principal: 'admin', afterSeq: 0 });

    const entries = await store.audit.list();
    const summary = entries.map((e) => [e.seq, e.principal, e.action, e.outcome, e.location, e.objectKey, e.keyId, e.sha256, e.details]);
    expect(summary).toEqual([
      [1, 'analyst', 'write', 'allowed', 'aws', 'a.csv', 'age1aws', SHA, { size: 3 }],
      [2, 'analyst', 'read', 'allowed', 'aws', 'a.csv', 'age1aws', SHA, {}],
      [3, 'system', 'move', 'allowed', 'aws', 'a.csv', 'age1gcp', SHA, { from: 'aws', to: 'gcp' }],
      [4, 'system', 'key_use', 'allowed', 'gcp', 'a.csv', 'age1gcp', null, { purpose: 'wrap' }],
      [5, 'admin', 'delete', 'error', 'aws', 'a.csv', null, null, { code: 'unavailable' }],
      [6, 'ops', 'denied', 'denied', 'gcp', 'a.csv', null, null, { attempted: 'read', reason: 'role_not_allowed' }],
      [7, 'system', 'policy', 'allowed', 'gcp', 'a.csv', null, null, { confidence: 0.93, decision: 'tier:cold' }],
      [8, 'admin', 'token_create', 'allowed', null, null, null, null, { name: 'ci', roles: ['analytics'] }],
      [9, 'admin', 'token_revoke', 'allowed', null, null, null, null, { name: 'ci' }],
      [10, 'admin', 'audit_export', 'allowed', null, null, null, null, { after_seq: 0 }],
    ]);
    for (const entry of entries) expect(entry.at).toBeInstanceOf(Date);
    expect(await trail.verify()).toMatchObject({ ok: true, entries: 10, head: { seq: 10 } });

    let text = '';
    for await (const chunk of trail.exportStream()) text += (chunk as Buffer).toString('utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    // An independent check, as an auditor's script would do it: no MovingData code but JCS.
    let prev = GENESIS_HASH;
    for (const line of lines) {
      const { prev_hash: prevHash, hash, ...record } = JSON.parse(line) as { prev_hash: string; hash: string } & JsonObject;
      expect(prevHash).toBe(prev);
      expect(createHash('sha256').update(prevHash + canonicalJson(record)).digest('hex')).toBe(hash);
      prev = hash;
    }

    const tail: string[] = [];
    for await (const record of trail.export({ afterSeq: 8 })) tail.push(record.action);
    expect(tail).toEqual(['token_revoke', 'audit_export']);
  });
});
