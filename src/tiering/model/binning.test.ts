/** Bin edges and bin mapping (binning.ts) against hand-computed quantiles and scikit-learn's rules. */
import { describe, expect, it } from 'vitest';
import { MISSING_BIN, binEdges, binOf, binRows, fitBinMapper } from './binning.ts';

describe('binning', () => {
  it('puts edges halfway between distinct values when there are few', () => {
    expect(Array.from(binEdges([3, 1, 2, 2, 1, 10]))).toEqual([1.5, 2.5, 6.5]);
    expect(Array.from(binEdges([5, 5, 5]))).toEqual([]);
  });

  it('puts edges at quantiles (averaged inverted CDF) when there are many distinct values', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1 … 1000, unsorted
    // n·q whole for q = ¼, ½, ¾: the mean of the order statistics on each side.
    expect(Array.from(binEdges(values, 4))).toEqual([250.5, 500.5, 750.5]);
    // n·q = 1000/3 is not whole: the order statistic at ⌈n·q⌉ (1-based).
    expect(Array.from(binEdges(values, 3))).toEqual([334, 667]);
    const full = binEdges(values);
    expect(full.length).toBe(254);
    for (let i = 1; i < full.length; i++) expect(full[i]!).toBeGreaterThan(full[i - 1]!);
  });

  it('drops duplicate quantile edges of skewed data', () => {
    const values = [...new Array<number>(900).fill(0), ...Array.from({ length: 300 }, (_, i) => i + 1)];
    const edges = binEdges(values);
    expect(new Set(edges).size).toBe(edges.length);
    expect(edges[0]).toBe(0);
  });

  it('ignores NaN for the edges and maps it to the missing bin', () => {
    expect(Array.from(binEdges([1, Number.NaN, 3, Number.NaN]))).toEqual([2]);
    const edges = Float64Array.from([1.5, 2.5]);
    expect([0, 1, 1.5, 1.6, 2.5, 2.6, 99, Number.NaN].map((v) => binOf(edges, v))).toEqual([0, 0, 0, 1, 1, 2, 2, MISSING_BIN]);
    const mapper = fitBinMapper([[1, 5], [2, Number.NaN], [3, 7]], 2);
    expect(mapper.hasMissing).toEqual([false, true]);
    expect(Array.from(binRows(mapper, [[1, 5], [2, Number.NaN], [3, 7]]))).toEqual([0, 1, 2, 0, MISSING_BIN, 1]);
  });
});
