import { describe, expect, it } from 'vitest';
import { formatAgo, formatBytes, formatCount } from './format.ts';

describe('formatting', () => {
  it('writes bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatBytes(-1)).toBe('—');
  });

  it('writes counts with separators and times relative to now', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(formatAgo('2026-12-01T11:59:58Z', now)).toBe('just now');
    expect(formatAgo('2026-12-01T11:59:30Z', now)).toBe('30 s ago');
    expect(formatAgo('2026-12-01T11:00:00Z', now)).toBe('1 h ago');
    expect(formatAgo(null, now)).toBe('never');
  });
});
