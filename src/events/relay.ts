/**
 * The outbox relay: ships outbox rows (events committed with what they report) to the bus in
 * batches and marks them sent. Several relays (processes on PostgreSQL) share the work by
 * shard (`Outbox.relay` leases shards), so the order per key holds. When the bus cannot take
 * a batch, the rows stay in the outbox and the relay backs off (doubling to `maxBackoffMs`);
 * the API is not affected. Shipped rows are purged after the retention period.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Outbox, OutboxRow } from '../metadata/index.ts';
import type { EventBus } from './port.ts';

export interface RelayOptions {
  /** Rows shipped per round (default 2,000). */
  readonly batch?: number;
  /**
   * Rounds in flight at once (default 4), each taking its own shards (16 / lanes of them): a
   * round waits mostly on the database, so lanes ship in parallel, and a shard is still only
   * ever shipped by one round at a time, in id order.
   */
  readonly lanes?: number;
  /** How long an idle relay waits before looking again (a `nudge` cuts it short). */
  readonly idleMs?: number;
  readonly maxBackoffMs?: number;
  /** Shipped rows older than this are deleted. */
  readonly retentionMs?: number;
  readonly onError?: (err: unknown) => void;
  /** Called with each batch shipped (metrics). */
  readonly onShipped?: (rows: readonly OutboxRow[]) => void;
}

export interface RelayState {
  readonly shipped: number;
  readonly failures: number;
  /** Consecutive failed attempts (0 when the bus takes batches). */
  readonly backlogFailures: number;
  readonly lastError: string | null;
  readonly lastShippedAt: Date | null;
}

export class OutboxRelay {
  readonly #outbox: Outbox;
  readonly #bus: EventBus;
  readonly #options: RelayOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #nudge: (() => void) | undefined;
  #pending = false;
  #shipped = 0;
  #failures = 0;
  #streak = 0;
  #lastError: string | null = null;
  #lastShippedAt: Date | null = null;

  constructor(outbox: Outbox, bus: EventBus, options: RelayOptions = {}) {
    this.#outbox = outbox;
    this.#bus = bus;
    this.#options = options;
  }

  start(): void {
    const lanes = Math.max(1, Math.min(16, this.#options.lanes ?? 4));
    this.#loop ??= Promise.all(Array.from({ length: lanes }, (_, lane) => this.#run(lane === 0, Math.ceil(16 / lanes)))).then(() => undefined);
  }

  /** Something was appended: look now rather than after the idle wait. */
  nudge(): void {
    this.#pending = true;
    this.#nudge?.();
  }

  state(): RelayState {
    return { shipped: this.#shipped, failures: this.#failures, backlogFailures: this.#streak, lastError: this.#lastError, lastShippedAt: this.#lastShippedAt };
  }

  /** Ships until the outbox is empty (or the bus refuses); resolves with how many rows went. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.#outbox.relay((rows) => this.#ship(rows), { limit: this.#options.batch ?? 500, shards: 16 });
      total += n;
      if (n === 0) return total;
    }
  }

  async #ship(rows: readonly OutboxRow[]): Promise<void> {
    await this.#bus.publish(rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: { outbox_id: r.id } })));
    this.#options.onShipped?.(rows);
  }

  async #run(purges: boolean, shards: number): Promise<void> {
    const signal = this.#stop.signal;
    let lastPurge = 0;
    while (!signal.aborted) {
      let shipped: number;
      try {
        this.#pending = false;
        shipped = await this.#outbox.relay((rows) => this.#ship(rows), { limit: this.#options.batch ?? 2000, shards });
        this.#shipped += shipped;
        if (shipped > 0) this.#lastShippedAt = new Date();
        this.#streak = 0;
        if (purges && Date.now() - lastPurge > 60_000) {
          lastPurge = Date.now();
          await this.#outbox.purgeSent(this.#options.retentionMs ?? 86_400_000);
        }
      } catch (err) {
        this.#failures += 1;
        this.#streak += 1;
        this.#lastError = err instanceof Error ? err.message : String(err);
        this.#options.onError?.(err);
        const backoff = Math.min(this.#options.maxBackoffMs ?? 10_000, 200 * 2 ** Math.min(this.#streak - 1, 8));
        await sleep(backoff, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (shipped === 0 && !this.#pending) await this.#idle();
    }
  }

  async #idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#options.idleMs ?? 200);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#nudge = done;
      this.#stop.signal.addEventListener('abort', done, { once: true });
    });
    this.#nudge = undefined;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#nudge?.();
    await this.#loop;
  }
}
