/**
 * Demo data, as the seed's `POST /seed` made it: files `file_001.txt`, `file_002.txt`, … spread
 * over the three locations in turn (netapp-bucket, netapp-blob, netapp-gcs on the lab), each a
 * small text body with baseline metadata (department, classification). Idempotent: a file that
 * already has a committed version is left alone.
 */
import { Readable } from 'node:stream';
import type { Replicator } from '../replication/replicator.ts';
import type { MetadataStore } from '../metadata/index.ts';

const DEPARTMENTS = ['analytics', 'operations', 'compliance'] as const;
const CLASSES = ['internal', 'confidential', 'public'] as const;

export interface SeedResult {
  readonly created: ReadonlyArray<{ readonly key: string; readonly location: string; readonly size: number; readonly sha256: string }>;
  readonly skipped: readonly string[];
}

export function seedKey(index: number): string {
  return `file_${String(index).padStart(3, '0')}.txt`;
}

function seedBody(index: number, location: string): Buffer {
  const lines = [`MovingData demo file ${index}`, `home location: ${location}`, `generated: ${new Date().toISOString()}`];
  // Sizes vary (a few hundred bytes to ~100 KiB) so tiering and costs have something to tell apart.
  const filler = 'telemetry,' + 'x'.repeat(64) + '\n';
  return Buffer.from(`${lines.join('\n')}\n${filler.repeat((index * 37) % 1500)}`);
}

export async function seedDemoFiles(deps: { readonly metadata: MetadataStore; readonly replicator: Replicator }, options: { readonly count: number; readonly principal: string }): Promise<SeedResult> {
  const locations = deps.replicator.locations;
  const created: Array<{ key: string; location: string; size: number; sha256: string }> = [];
  const skipped: string[] = [];
  for (let i = 1; i <= options.count; i++) {
    const key = seedKey(i);
    const existing = await deps.metadata.findFileByKey(key);
    if (existing?.currentVersion != null) {
      skipped.push(key);
      continue;
    }
    const location = locations[(i - 1) % locations.length]!;
    const body = seedBody(i, location);
    const outcome = await deps.replicator.write(options.principal, key, [location], Readable.from([body]), {
      size: body.length,
      contentType: 'text/plain',
      metadata: { department: DEPARTMENTS[(i - 1) % DEPARTMENTS.length]!, classification: CLASSES[i % CLASSES.length]!, source: 'seed' },
    });
    created.push({ key, location, size: outcome.size, sha256: outcome.sha256 });
  }
  return { created, skipped };
}
