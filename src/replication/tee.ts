/**
 * One stream into several, with backpressure: each chunk goes to every live branch, and the
 * next chunk is accepted only when every branch can take more, so the slowest destination sets
 * the pace and nothing piles up in memory. A branch that fails (its destination refused or went
 * away) is dropped and the others carry on; when none is left the tee fails, which stops the
 * source. (Node's `pipe` to several destinations has backpressure too, but one destination
 * that errors leaves the source paused forever; this is the behaviour fan-out needs.)
 */
import { Writable } from 'node:stream';

export class NoBranchLeftError extends Error {
  constructor() {
    super('every destination of the fan-out failed');
    this.name = 'NoBranchLeftError';
  }
}

export class Tee extends Writable {
  readonly #live = new Set<Writable>();

  constructor(branches: readonly Writable[], options: { highWaterMark?: number } = {}) {
    super({ highWaterMark: options.highWaterMark ?? 1024 * 1024 });
    for (const branch of branches) {
      this.#live.add(branch);
      const drop = (): void => {
        if (!this.#live.delete(branch)) return;
        if (this.#live.size === 0 && !this.destroyed && !this.writableFinished) this.destroy(new NoBranchLeftError());
      };
      branch.once('error', drop);
      branch.once('close', () => {
        if (!branch.writableFinished) drop();
      });
    }
  }

  /** Branches still receiving bytes. */
  get liveBranches(): number {
    return this.#live.size;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const waits: Array<Promise<void>> = [];
    for (const branch of this.#live) {
      if (!branch.write(chunk)) waits.push(ready(branch));
    }
    if (waits.length === 0) return callback();
    Promise.all(waits).then(
      () => callback(),
      (err: unknown) => callback(err as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    for (const branch of this.#live) branch.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Only a failure tears the branches down. A tee that simply finished is destroyed too
    // (autoDestroy), while its branches may still hold bytes their readers have not taken yet.
    if (error !== null) for (const branch of this.#live) if (!branch.writableFinished) branch.destroy(error);
    callback(error);
  }
}

/** Resolves when the branch can take more, or has gone (a dead branch must not hold up the rest). */
function ready(branch: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      branch.off('drain', done);
      branch.off('close', done);
      branch.off('error', done);
      resolve();
    };
    branch.on('drain', done);
    branch.on('close', done);
    branch.on('error', done);
  });
}
