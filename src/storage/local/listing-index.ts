/**
 * The local-disk adapter's listing index: what a listing needs of each object (key, size,
 * checksums, tier), kept beside the objects so that a listing stats files instead of reading them.
 *
 * An object's file is named by the hash of its key, so only its trailer says which key it holds.
 * Reading 4,000 trailers for every drift scan is what an object store's listing never costs; this
 * index is the local adapter's equivalent of the provider's listing database.
 *
 * It is a cache, never an authority. Each entry was read from a trailer together with the fstat
 * of the same open file: inode, size, mtime and ctime in nanoseconds. A listing uses an entry only
 * while a fresh stat of the path matches all four, so any write, rename, copy or truncation since
 * (including one that restores mtime with `touch -d`: ctime cannot be set) sends the listing back
 * to the trailer. A lost or torn index line costs one trailer read, nothing else.
 *
 * Layout: `objects/<shard>/.index`, one JSON line per entry, appended (O_APPEND keeps short lines
 * whole between processes); the last line for a hash wins. A scan that finds the file holding more
 * than twice the lines it needs rewrites it (temp file, rename).
 */
import type { BigIntStats } from 'node:fs';
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListedObject } from '../port.ts';

export const INDEX_NAME = '.index';

/** What identifies one version of a file on disk: a match means nothing has touched it since. */
interface FileIdentity {
  readonly ino: string;
  readonly size: string;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
}

interface Line extends FileIdentity {
  /** The object file's name (the key's hash). */
  readonly h: string;
  readonly key: string;
  readonly bytes: number;
  readonly etag: string;
  readonly sha256: string;
  readonly md5?: string;
  readonly tier: string;
}

export function identityOf(stats: BigIntStats): FileIdentity {
  return { ino: String(stats.ino), size: String(stats.size), mtimeNs: String(stats.mtimeNs), ctimeNs: String(stats.ctimeNs) };
}

/** Nothing touched the file between two stats of it. */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function parseLine(text: string): Line | undefined {
  try {
    const line = JSON.parse(text) as Partial<Line>;
    const strings = [line.h, line.key, line.etag, line.sha256, line.tier, line.ino, line.size, line.mtimeNs, line.ctimeNs];
    if (strings.every((s) => typeof s === 'string') && typeof line.bytes === 'number') return line as Line;
  } catch {
    // A torn or foreign line: ignored, the object's trailer is read instead.
  }
  return undefined;
}

/** One shard's index as loaded: entries by file name, and how many lines the file holds. */
export class ShardIndex {
  readonly #path: string;
  readonly #entries = new Map<string, Line>();
  #lines = 0;
  readonly #added: Line[] = [];

  private constructor(dir: string) {
    this.#path = join(dir, INDEX_NAME);
  }

  static async load(dir: string): Promise<ShardIndex> {
    const index = new ShardIndex(dir);
    const text = await readFile(index.#path, 'utf8').catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    });
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      index.#lines += 1;
      const line = parseLine(raw);
      if (line !== undefined) index.#entries.set(line.h, line);
    }
    return index;
  }

  /** The listed object for `name` if the index knows this very file (`stats` of the path now). */
  lookup(name: string, stats: BigIntStats): ListedObject | undefined {
    const line = this.#entries.get(name);
    if (line === undefined || !sameFile(line, identityOf(stats))) return undefined;
    return {
      key: line.key,
      size: line.bytes,
      etag: line.etag,
      // Rounded to the millisecond as fs.Stats.mtime is, so both paths list the same Date.
      lastModified: new Date(Math.round(Number(stats.mtimeNs / 1000n) / 1000)),
      tier: line.tier,
      checksums: line.md5 === undefined ? { sha256: line.sha256 } : { md5: line.md5, sha256: line.sha256 },
    };
  }

  /** Records what a trailer read found in the file `identity` describes. */
  remember(name: string, identity: FileIdentity, listed: ListedObject): void {
    const line: Line = {
      h: name,
      key: listed.key,
      bytes: listed.size,
      etag: listed.etag ?? listed.checksums.sha256 ?? '',
      sha256: listed.checksums.sha256 ?? '',
      ...(listed.checksums.md5 === undefined ? {} : { md5: listed.checksums.md5 }),
      tier: listed.tier ?? '',
      ...identity,
    };
    this.#entries.set(name, line);
    this.#added.push(line);
  }

  /**
   * Writes what this scan learnt: appended, or the whole index rewritten when most of its lines
   * are dead (`live` = the file names the scan found).
   */
  async save(live: ReadonlySet<string>): Promise<void> {
    const total = this.#lines + this.#added.length;
    if (total > 2 * live.size + 64) {
      const kept = [...this.#entries.values()].filter((line) => live.has(line.h));
      const tmp = `${this.#path}.${process.pid}.${Date.now()}`;
      try {
        await writeFile(tmp, kept.map((line) => `${JSON.stringify(line)}\n`).join(''));
        await rename(tmp, this.#path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      this.#lines = kept.length;
    } else if (this.#added.length > 0) {
      await appendFile(this.#path, this.#added.map((line) => `${JSON.stringify(line)}\n`).join(''));
      this.#lines = total;
    }
    this.#added.length = 0;
  }
}
