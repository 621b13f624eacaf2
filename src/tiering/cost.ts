/**
 * The cost model: what one object costs in one storage class, and what moving it costs.
 *
 * Shared by the product (estimated monthly cost per file, totals per location) and by the
 * simulator and the offline optimum (src/tiering/billing.ts builds on these functions), so a
 * figure the dashboard shows and a figure the evaluation reports come from the same arithmetic.
 *
 * Conventions: GB = 2^30 bytes; a month is 30 days, a day costs the monthly price ÷ 30; a read is
 * a whole-object GET (request fee plus retrieval per GB of the object's real size); storage bills
 * at least the class's minimum billable size; leaving a class before its minimum duration bills
 * the remaining days at its storage price (early deletion).
 */
import type { ClassPrices, PriceTable, PriceTables, Provider } from './prices.ts';
import { priceClass } from './prices.ts';

export const GIB = 2 ** 30;
export const DAYS_PER_MONTH = 30;

/** Bytes the class bills for an object of `size` bytes (minimum size, per-object overhead). */
export function billableBytes(size: number, cls: ClassPrices): number {
  return Math.max(size, cls.minBillableBytes.value) + (cls.perObjectOverheadBytes?.value ?? 0);
}

export function storageCostPerMonth(size: number, cls: ClassPrices): number {
  return (billableBytes(size, cls) / GIB) * cls.storagePerGbMonth.value;
}

export function storageCostPerDay(size: number, cls: ClassPrices): number {
  return storageCostPerMonth(size, cls) / DAYS_PER_MONTH;
}

/** One whole-object GET: the request fee plus retrieval per GB (plus a restore request when offline). */
export function readCost(size: number, cls: ClassPrices, reads = 1): number {
  const perRead = cls.readPer1000.value / 1000 + (size / GIB) * cls.retrievalPerGb.value + (cls.restorePer1000?.value ?? 0) / 1000;
  return reads * perRead;
}

export function writeCost(cls: ClassPrices, writes = 1): number {
  return (writes * cls.writePer1000.value) / 1000;
}

/** Remaining days of the minimum duration at the class's storage price; 0 once it is served. */
export function earlyDeletionCharge(size: number, cls: ClassPrices, daysInClass: number): number {
  const remaining = cls.minDurationDays.value - daysInClass;
  return remaining > 0 ? remaining * storageCostPerDay(size, cls) : 0;
}

export interface MoveCost {
  readonly earlyDeletion: number;
  /** Transition fee (going colder) or read back + rewrite (going warmer or across providers). */
  readonly transfer: number;
  readonly egress: number;
  readonly total: number;
}

/**
 * Changing class within one provider. Going colder is a lifecycle transition (a fee per object
 * into the destination); going warmer is a read back from the source and a rewrite.
 */
export function transitionCost(size: number, from: ClassPrices, to: ClassPrices, daysInFrom: number): MoveCost {
  const earlyDeletion = earlyDeletionCharge(size, from, daysInFrom);
  if (from === to) return { earlyDeletion: 0, transfer: 0, egress: 0, total: 0 };
  const transfer = to.coldness > from.coldness ? to.transitionInPer1000.value / 1000 : readCost(size, from) + writeCost(to);
  return { earlyDeletion, transfer, egress: 0, total: earlyDeletion + transfer };
}

export function egressPerGb(table: PriceTable, to: Provider): number {
  if (to === table.provider) return 0;
  return (table.egressPerGb[to] ?? table.egressPerGb.internet)?.value ?? 0;
}

export interface Placement {
  readonly provider: Provider;
  /** The provider's class name (`STANDARD_IA`, `Cool`, `NEARLINE`, ...). */
  readonly className: string;
}

/**
 * Moving an object between placements. Within a provider this is `transitionCost`; across
 * providers it is a read at the source, egress, a write at the destination, and the source's
 * early-deletion charge (the copy there is deleted).
 */
export function moveCost(tables: PriceTables, size: number, from: Placement, to: Placement, daysInFrom: number): MoveCost {
  const src = priceClass(tables[from.provider], from.className);
  const dst = priceClass(tables[to.provider], to.className);
  if (from.provider === to.provider) return transitionCost(size, src, dst, daysInFrom);
  const earlyDeletion = earlyDeletionCharge(size, src, daysInFrom);
  const transfer = readCost(size, src) + writeCost(dst);
  const egress = (size / GIB) * egressPerGb(tables[from.provider], to.provider);
  return { earlyDeletion, transfer, egress, total: earlyDeletion + transfer + egress };
}

/** Per-object monitoring (S3 Intelligent-Tiering, GCS Autoclass) for a month; 0 below the minimum size. */
export function monitoringCostPerMonth(table: PriceTable, autoTier: string, size: number): number {
  const a = table.autoTiering[autoTier];
  if (a === undefined || size < a.minMonitoredBytes.value) return 0;
  return a.monitoringPer1000ObjectsMonth.value / 1000;
}

export interface FileUsage extends Placement {
  readonly size: number;
  /** Whole-object reads expected per month (e.g. the last 30 days' count). */
  readonly readsPerMonth: number;
  /** Auto-tiering the class is under (`INTELLIGENT_TIERING`, `AUTOCLASS`), if any. */
  readonly autoTier?: string;
}

export interface MonthlyCost {
  readonly storage: number;
  readonly reads: number;
  readonly monitoring: number;
  readonly total: number;
}

/** Estimated cost of one file for a month where it stays where it is. */
export function estimateMonthlyCost(tables: PriceTables, file: FileUsage): MonthlyCost {
  const table = tables[file.provider];
  const cls = priceClass(table, file.className);
  const storage = storageCostPerMonth(file.size, cls);
  const reads = readCost(file.size, cls, file.readsPerMonth);
  const monitoring = file.autoTier === undefined ? 0 : monitoringCostPerMonth(table, file.autoTier, file.size);
  return { storage, reads, monitoring, total: storage + reads + monitoring };
}

export interface LocationTotal {
  readonly files: number;
  readonly bytes: number;
  readonly monthly: number;
}

/** Monthly totals per `provider/class` (or any location label the caller gives). */
export function totalsPerLocation(
  tables: PriceTables,
  files: Iterable<FileUsage & { readonly location?: string }>,
): Map<string, LocationTotal> {
  const out = new Map<string, LocationTotal>();
  for (const f of files) {
    const label = f.location ?? `${f.provider}/${f.className}`;
    const prev = out.get(label) ?? { files: 0, bytes: 0, monthly: 0 };
    out.set(label, { files: prev.files + 1, bytes: prev.bytes + f.size, monthly: prev.monthly + estimateMonthlyCost(tables, f).total });
  }
  return out;
}
