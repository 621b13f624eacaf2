/**
 * Event rates over the last 1, 5 and 15 minutes (like a load average, but exact): counts per
 * second in a ring of 900 slots, so memory is fixed whatever the rate.
 */
const SLOTS = 900;

export class RateWindow {
  readonly #counts = new Float64Array(SLOTS);
  #second: number;
  #total = 0;

  constructor(now = Date.now()) {
    this.#second = Math.floor(now / 1000);
  }

  add(n = 1, now = Date.now()): void {
    this.#advance(Math.floor(now / 1000));
    this.#counts[this.#second % SLOTS]! += n;
    this.#total += n;
  }

  get total(): number {
    return this.#total;
  }

  #advance(second: number): void {
    if (second <= this.#second) return;
    const steps = Math.min(SLOTS, second - this.#second);
    for (let i = 1; i <= steps; i += 1) this.#counts[(this.#second + i) % SLOTS] = 0;
    this.#second = second;
  }

  /** Events per second over the last `seconds` full seconds (the current one excluded). */
  perSecond(seconds: number, now = Date.now()): number {
    this.#advance(Math.floor(now / 1000));
    const span = Math.max(1, Math.min(SLOTS - 1, seconds));
    let sum = 0;
    for (let i = 1; i <= span; i += 1) sum += this.#counts[(this.#second - i + SLOTS * 2) % SLOTS]!;
    return sum / span;
  }

  rates(now = Date.now()): { readonly m1: number; readonly m5: number; readonly m15: number } {
    return { m1: this.perSecond(60, now), m5: this.perSecond(300, now), m15: this.perSecond(899, now) };
  }
}
