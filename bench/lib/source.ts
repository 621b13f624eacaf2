/** What the throughput suites move: a case (files × size) and its random source files on disk. */
import { randomFillSync } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

const MiB = 1024 * 1024;

export interface BenchCase {
  readonly name: string;
  readonly files: number;
  readonly bytesEach: number;
  /** Files in flight at once, on every side (rclone: --transfers). */
  readonly concurrency: number;
  /** Runs per measurement (the median is reported) unless MOVINGDATA_BENCH_RUNS says otherwise. */
  readonly runs: number;
}

/** Writes the case's files of random bytes into `dir` (8 MiB at a time); returns their names. */
export async function writeSource(dir: string, c: BenchCase): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  const block = Buffer.allocUnsafe(Math.min(c.bytesEach, 8 * MiB));
  for (let i = 0; i < c.files; i++) {
    const name = `file-${String(i).padStart(5, '0')}.bin`;
    names.push(name);
    const handle = await open(join(dir, name), 'w');
    try {
      for (let written = 0; written < c.bytesEach; written += block.length) {
        randomFillSync(block);
        await handle.write(block, 0, Math.min(block.length, c.bytesEach - written));
      }
    } finally {
      await handle.close();
    }
  }
  return names;
}
