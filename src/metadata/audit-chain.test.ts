import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, auditEntryHash, auditRecord, canonicalJson, verifyAuditChain, type AuditFields } from './audit-chain.ts';
import type { AuditEntry, JsonValue } from './port.ts';

function chain(count: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let seq = 1; seq <= count; seq += 1) {
    const fields: AuditFields = {
      seq,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)),
      principal: `p${seq % 2}`,
      action: 'read',
      location: 'aws',
      objectKey: `k${seq}`,
      keyId: null,
      sha256: null,
      outcome: 'allowed',
      details: { seq },
    };
    const prevHash = entries.at(-1)?.hash ?? GENESIS_HASH;
    entries.push({ ...fields, prevHash, hash: auditEntryHash(prevHash, fields) });
  }
  return entries;
}

async function verify(entries: readonly AuditEntry[]) {
  async function* source() {
    yield* entries;
  }
  return verifyAuditChain(source(), async (hash) => entries.find((e) => e.hash === hash)?.seq);
}

/** Renumber entries to 1..n in their current order, as an attacker hiding a gap would. */
function renumber(entries: readonly AuditEntry[]): AuditEntry[] {
  return entries.map((e, i) => ({ ...e, seq: i + 1 }));
}

describe('canonical JSON (RFC 8785)', () => {
  it('serialises the RFC’s primitive example exactly', () => {
    const parsed = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as JsonValue;
    expect(canonicalJson(parsed)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('sorts keys by UTF-16 code units, recursively', () => {
    const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis', nested: { b: 1, a: [{ d: 1, c: 2 }] } };
    expect(canonicalJson(value)).toBe(
      '{"\\r":"Carriage Return","1":"One","nested":{"a":[{"c":2,"d":1}],"b":1},"\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('refuses what JSON cannot carry', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/non-finite/);
  });
});

describe('the entry hash', () => {
  it('is sha256(prev_hash ‖ canonical record) with the export’s field names, pinned by a fixed vector', () => {
    const fields: AuditFields = {
      seq: 1,
      at: new Date('2026-01-02T03:04:05.678Z'),
      principal: 'alice',
      action: 'write',
      location: 'aws',
      objectKey: 'k',
      keyId: null,
      sha256: null,
      outcome: 'allowed',
      details: { a: 1 },
    };
    const text = '{"action":"write","at":"2026-01-02T03:04:05.678Z","details":{"a":1},"key_id":null,"location":"aws","object_key":"k","outcome":"allowed","principal":"alice","seq":1,"sha256":null}';
    const expected = createHash('sha256').update(GENESIS_HASH + text).digest('hex');
    expect(auditEntryHash(GENESIS_HASH, fields)).toBe(expected);

    // An export line minus its two hashes, canonicalised, is exactly what was hashed.
    const line = auditRecord({ ...fields, prevHash: GENESIS_HASH, hash: expected });
    const { prev_hash: prevHash, hash, ...record } = line;
    expect(createHash('sha256').update(prevHash + canonicalJson(record)).digest('hex')).toBe(hash);
  });

  it('changes with every field, including seq and at', () => {
    const [entry] = chain(1);
    const base = auditEntryHash(GENESIS_HASH, entry!);
    const variants: Array<Partial<AuditFields>> = [
      { seq: 2 },
      { at: new Date(entry!.at.getTime() + 1) },
      { principal: 'x' },
      { action: 'write' },
      { location: null },
      { objectKey: 'other' },
      { keyId: 'k' },
      { sha256: 'a'.repeat(64) },
      { outcome: 'denied' },
      { details: { seq: 2 } },
    ];
    for (const change of variants) expect(auditEntryHash(GENESIS_HASH, { ...entry!, ...change })).not.toBe(base);
    expect(auditEntryHash('1'.repeat(64), entry!)).not.toBe(base);
  });
});

describe('verifying a chain', () => {
  it('accepts an intact chain and reports its head', async () => {
    const entries = chain(5);
    expect(await verify(entries)).toEqual({ ok: true, entries: 5, head: { seq: 5, hash: entries[4]?.hash } });
    expect(await verify([])).toEqual({ ok: true, entries: 0, head: null });
  });

  it('reports an entry inserted in the middle, even when the forger renumbered and chained it', async () => {
    const entries = chain(6);
    const forgedFields: AuditFields = { ...entries[2]!, seq: 4, principal: 'mallory' };
    const forged: AuditEntry = { ...forgedFields, prevHash: entries[2]!.hash, hash: auditEntryHash(entries[2]!.hash, forgedFields) };
    const tampered = renumber([...entries.slice(0, 3), forged, ...entries.slice(3)]);
    expect((await verify(tampered)).problem).toMatchObject({ seq: 4, kind: 'deleted_or_inserted' });
  });

  it('reports a deleted entry when the forger renumbered the rest', async () => {
    const entries = chain(6);
    const tampered = renumber([...entries.slice(0, 2), ...entries.slice(3)]);
    expect((await verify(tampered)).problem).toMatchObject({ seq: 3, kind: 'deleted_or_inserted' });
  });

  it('reports a log that no longer starts at the genesis entry', async () => {
    const entries = chain(4);
    expect((await verify(renumber(entries.slice(1)))).problem).toMatchObject({ seq: 1, kind: 'deleted_or_inserted' });
  });

  it('accepts a rewrite that reaches the end of the log: only an anchored head can catch it', async () => {
    const entries = chain(4);
    const lastFields: AuditFields = { ...entries[3]!, principal: 'mallory' };
    const rewritten = [...entries.slice(0, 3), { ...lastFields, prevHash: entries[2]!.hash, hash: auditEntryHash(entries[2]!.hash, lastFields) }];
    const result = await verify(rewritten);
    expect(result.ok).toBe(true);
    expect(result.head).not.toEqual({ seq: 4, hash: entries[3]?.hash });
  });
});
