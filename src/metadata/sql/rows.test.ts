import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { toDate, toId, toSafeInteger } from './rows.ts';
import { prefixUpperBound } from './store.ts';

describe('normalising driver values', () => {
  it('converts int8 from text, number or bigint exactly, and refuses what a JS number cannot hold', () => {
    expect(toSafeInteger('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(toSafeInteger(9007199254740991n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(toSafeInteger(0)).toBe(0);
    expect(() => toSafeInteger('9007199254740993')).toThrow(/unexpected/);
    expect(() => toSafeInteger(2 ** 53)).toThrow(/unexpected/);
    expect(() => toSafeInteger('12abc')).toThrow(/unexpected/);
    expect(toId('9223372036854775807')).toBe('9223372036854775807');
  });

  it('reads timestamptz as a Date, from a driver Date or PostgreSQL ISO text', () => {
    const date = new Date('2026-01-02T03:04:05.678Z');
    expect(toDate(date)).toEqual(date);
    expect(toDate(date)).not.toBe(date); // a copy: callers cannot mutate a shared value
    expect(toDate('2026-01-02 03:04:05.678+00')).toEqual(date);
    expect(toDate('2026-01-02 05:34:05.678+02:30')).toEqual(date);
    expect(() => toDate('yesterday')).toThrow(/unexpected/);
  });
});

describe('key ranges and cursors', () => {
  it('bounds a prefix in byte order, past the surrogate gap and the last code point', () => {
    expect(prefixUpperBound('docs/')).toBe('docs0');
    expect(prefixUpperBound('a\uD7FF')).toBe('a\uE000');
    expect(prefixUpperBound('a\u{10FFFF}')).toBe('b');
    expect(prefixUpperBound('😀')).toBe('😁');
    expect(prefixUpperBound('\u{10FFFF}')).toBeUndefined();
  });

  it('round-trips a cursor and rejects one from another listing or a forged one', () => {
    const cursor = encodeCursor('location', ['obj/é', '42']);
    expect(decodeCursor('location', cursor)).toEqual(['obj/é', '42']);
    expect(() => decodeCursor('inventory', cursor)).toThrow(/not a valid inventory cursor/);
    expect(() => decodeCursor('location', encodeCursor('location', ['k', '1; drop table files']))).toThrow(/not a valid/);
  });
});
