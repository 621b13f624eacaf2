/**
 * How one location is priced and which of our tiers it can really offer.
 *
 * Every location is priced by its provider (aws, azure, gcp), whatever runs it: S3 itself,
 * MinIO, Azurite, fake-gcs-server or a local directory on embedded defaults. A store's own tier
 * names map to our tiers through its `features.tiers`; its classes are priced from the
 * provider's table:
 *   - a store class the table knows (STANDARD_IA, Cool, NEARLINE, ...) at its own price;
 *   - a local directory's tiers (named hot, cool, cold, archive) at the provider class for that
 *     tier;
 *   - a class the table does not know (MinIO's REDUCED_REDUNDANCY) at the hot class's price:
 *     MinIO is priced as S3 Standard, so moving there saves nothing and the rules never do it.
 * A tier is "offered" when the store has a class for it priced differently from hot (or it is
 * hot): only those are worth a class change in place; the others need a move elsewhere.
 */
import type { ObjectStore, TierClass } from '../storage/port.ts';
import { TIER_CLASSES, type PriceTable, type Provider, PROVIDERS } from './prices.ts';

export interface LocationPricing {
  readonly location: string;
  readonly provider: Provider;
  /** The provider's table with `tiers` naming the classes this store's tiers are priced at. */
  readonly table: PriceTable;
  /** Our tiers this location can put a copy in, warmest first. */
  readonly offered: readonly TierClass[];
  /** Our tier of a copy recorded with the store's tier `name` (null: the store's default). */
  tierOf(name: string | null): TierClass;
  /** The store's own name for one of our tiers, if it has one. */
  nativeName(tier: TierClass): string | undefined;
  /** Whether `tier` needs a restore before a read here (S3 Deep Archive, Azure Archive). */
  offline(tier: TierClass): boolean;
}

/** The provider a location is priced by: its name when that is aws, azure or gcp, else its store's kind. */
export function providerOf(location: string, store: Pick<ObjectStore, 'provider'>): Provider {
  if ((PROVIDERS as readonly string[]).includes(location)) return location as Provider;
  return store.provider === 's3' ? 'aws' : store.provider === 'gcs' ? 'gcp' : store.provider === 'azure' ? 'azure' : 'aws';
}

export function locationPricing(location: string, store: Pick<ObjectStore, 'provider' | 'features'>, table: PriceTable): LocationPricing {
  const specs = store.features.tiers;
  const hotClass = table.tiers.hot;
  const priced: Record<TierClass, string> = { ...table.tiers };
  const offered: TierClass[] = [];
  for (const tier of TIER_CLASSES) {
    const spec = specs.find((s) => s.class === tier);
    if (spec === undefined) continue;
    const name = table.classes[spec.name] !== undefined ? spec.name : store.provider === 'local' ? table.tiers[tier] : hotClass;
    priced[tier] = name;
    if (tier === 'hot' || name !== hotClass) offered.push(tier);
  }
  if (!offered.includes('hot')) offered.unshift('hot');
  const pricedTable: PriceTable = { ...table, tiers: priced };
  const defaultTier: TierClass = specs[0]?.class ?? 'hot';
  return {
    location,
    provider: table.provider,
    table: pricedTable,
    offered,
    tierOf(name) {
      if (name === null) return defaultTier;
      const spec = specs.find((s) => s.name === name) ?? specs.find((s) => s.name.toLowerCase() === name.toLowerCase());
      if (spec !== undefined) return spec.class;
      const byClass = TIER_CLASSES.find((t) => table.tiers[t] === name);
      return byClass ?? defaultTier;
    },
    nativeName(tier) {
      return specs.find((s) => s.class === tier)?.name;
    },
    offline(tier) {
      return specs.find((s) => s.class === tier)?.offline === true || table.classes[priced[tier]]?.offline === true;
    },
  };
}
