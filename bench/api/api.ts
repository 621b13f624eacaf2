/**
 * Peak memory of the control plane while a large object goes through its API: the real server
 * (`movingdata serve --demo`) in its own process, started a second time over the data directory
 * its first start created, a client streaming PUT then GET over HTTP, and
 * the server's VmHWM (peak resident set, from /proc; reset just before the transfer through
 * /proc/<pid>/clear_refs, so start-up — PGlite's initdb peaks high — does not count) read at the
 * end. Target: < 128 MiB for a 4 GiB object. Also reports the throughput each way and the
 * server's RSS before the transfer, since what the process holds at rest is part of the peak.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { mibPerSecond } from '../lib/process.ts';
import { http, startBenchServer } from '../lib/server.ts';

const MiB = 1024 * 1024;

export interface ApiRow {
  readonly location: string;
  readonly bytes: number;
  readonly putMiBs: number;
  readonly getMiBs: number;
  readonly idleRssMiB: number;
  readonly peakRssMiB: number;
}

/** Resets the kernel's peak-RSS mark (VmHWM) of `pid`, so the next reading is this transfer's peak. */
async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

function generated(size: number): Readable {
  const block = Buffer.alloc(MiB, 0x33);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const length = Math.min(MiB, size - sent);
      sent += length;
      this.push(length === MiB ? block : block.subarray(0, length));
    },
  });
}

export async function runApiBench(env: Readonly<Record<string, string>>, dataDir: string, bytes: number, locations: readonly string[], log: (line: string) => void): Promise<ApiRow[]> {
  // A first start creates the data directory (PGlite's initdb) and the schema, and leaves their
  // garbage to a GC that an idle server may not run for a long while: one-off, not what a
  // server that restarts over its data holds. Measure the second start.
  await (await startBenchServer(env, dataDir)).stop();
  const server = await startBenchServer(env, dataDir);
  const port = server.port;
  try {
    const rows: ApiRow[] = [];
    for (const location of locations) {
      const idle = await memory(server.pid);
      await resetPeak(server.pid);
      log(`API ${location}: PUT ${bytes / MiB} MiB`);
      const putStart = performance.now();
      const put = await http('PUT', port, `/files/${location}/bench/large.bin`, generated(bytes));
      const putSeconds = (performance.now() - putStart) / 1000;
      if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.text}`);
      log(`API ${location}: GET ${bytes / MiB} MiB`);
      const getStart = performance.now();
      const got = await http('GET', port, `/files/${location}/bench/large.bin`);
      const getSeconds = (performance.now() - getStart) / 1000;
      if (got.status !== 200 || got.bytes !== bytes) throw new Error(`GET answered ${got.status} with ${got.bytes} bytes`);
      const expected = (JSON.parse(put.text) as { sha256: string }).sha256;
      if (got.sha256 !== expected) throw new Error('GET returned different bytes');
      const peak = await memory(server.pid);
      await http('DELETE', port, `/files/${location}/bench/large.bin`);
      rows.push({ location, bytes, putMiBs: mibPerSecond(bytes, putSeconds), getMiBs: mibPerSecond(bytes, getSeconds), idleRssMiB: idle.rss, peakRssMiB: peak.hwm });
    }
    return rows;
  } finally {
    await server.stop();
  }
}
