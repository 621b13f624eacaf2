/**
 * Constant memory: 256 MiB go through encrypt → decrypt in one pipeline, produced faster than a
 * slow consumer takes them. Without backpressure, or with per-object buffering, the whole 256 MiB
 * would pile up.
 *
 * Two figures, because V8 frees Buffers lazily (a collection starts after about 64 MiB of new
 * external memory), so RSS carries garbage on top of what is live:
 * - on V8's own schedule, as in production: peak RSS growth under 64 MiB;
 * - with a collection forced every 20 ms, which shows what the streams themselves hold (a few
 *   chunks per stage): RSS growth under 32 MiB.
 * A first, smaller pass warms up the JIT and the allocator's arenas, which are not the streams'.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDecryptStream, createEncryptStream, generateIdentity } from './index.ts';

const MiB = 1024 * 1024;
const TOTAL = 256 * MiB + 12_345;

interface MemoryFigures {
  readonly rssGrowthMiB: number;
  readonly liveBuffersGrowthMiB: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function streamThrough(total: number, forceGc: boolean): Promise<MemoryFigures> {
  if (gc === undefined) throw new Error('run with --expose-gc (vitest.config.ts sets it)');
  const identity = generateIdentity();
  const pool = randomBytes(MiB + 4099);
  const sourceHash = createHash('sha256');
  const sinkHash = createHash('sha256');
  let produced = 0;
  let consumed = 0;
  let writes = 0;
  // Odd piece sizes, each a fresh copy (as a socket delivers them), so chunks straddle pieces.
  const source = new Readable({
    read() {
      if (produced >= total) return void this.push(null);
      const size = Math.min(50_000 + (produced % 31_000), total - produced);
      const offset = produced % 4099;
      const piece = Buffer.from(pool.subarray(offset, offset + size));
      sourceHash.update(piece);
      produced += size;
      this.push(piece);
    },
  });
  const slowSink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sinkHash.update(chunk);
      consumed += chunk.length;
      // Yield to the event loop often, so the producer side is always ahead.
      if ((writes += 1) % 8 === 0) setImmediate(callback);
      else callback();
    },
  });

  gc();
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakBuffers = baseline.arrayBuffers;
  const sample = (): void => {
    if (forceGc) gc();
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
  };
  const sampler = setInterval(sample, forceGc ? 20 : 10);
  try {
    await pipeline(source, createEncryptStream([identity.recipient]), createDecryptStream([identity]), slowSink);
  } finally {
    clearInterval(sampler);
  }
  sample();
  expect(consumed).toBe(total);
  expect(sinkHash.digest('hex')).toBe(sourceHash.digest('hex'));
  return { rssGrowthMiB: (peakRss - baseline.rss) / MiB, liveBuffersGrowthMiB: (peakBuffers - baseline.arrayBuffers) / MiB };
}

describe('constant memory', () => {
  beforeAll(async () => {
    await streamThrough(32 * MiB, false);
  }, 60_000);

  it('keeps peak RSS growth under 64 MiB on V8’s own collection schedule', async () => {
    const figures = await streamThrough(TOTAL, false);
    console.log(`age 256 MiB pipeline, V8's GC schedule: peak RSS growth ${figures.rssGrowthMiB.toFixed(1)} MiB`);
    expect(figures.rssGrowthMiB).toBeLessThan(64);
  }, 180_000);

  it('holds only a few chunks while 256 MiB stream through encrypt → decrypt (collections forced)', async () => {
    const figures = await streamThrough(TOTAL, true);
    console.log(`age 256 MiB pipeline, GC every 20 ms: peak RSS growth ${figures.rssGrowthMiB.toFixed(1)} MiB, Buffers ${figures.liveBuffersGrowthMiB.toFixed(1)} MiB`);
    expect(figures.rssGrowthMiB).toBeLessThan(32);
    // Includes Buffers already unreachable whose memory V8 frees concurrently after a collection.
    expect(figures.liveBuffersGrowthMiB).toBeLessThan(32);
  }, 180_000);
});
