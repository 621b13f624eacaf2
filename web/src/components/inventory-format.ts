/** How the Inventory page writes costs, confidences and key ids. */

/** US dollars a month: small figures keep their significant digits ($0.000021), large ones cents. */
export function formatUsd(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  if (value === 0) return '$0';
  if (value >= 1) return `$${value.toFixed(2)}`;
  if (value < 0.000001) return '<$0.000001';
  return `$${Number(value.toPrecision(2)).toFixed(Math.min(8, 1 - Math.floor(Math.log10(value))))}`;
}

export function formatConfidence(confidence: number): string {
  return `${Math.round(confidence * 100)}%`;
}

/** A long identifier shortened for a cell (the whole one goes in a title). */
export function shortId(id: string | null, keep = 12): string {
  if (id === null) return '—';
  return id.length <= keep + 1 ? id : `${id.slice(0, keep)}…`;
}

/** The page path of a file's detail. */
export function detailPath(location: string, key: string): string {
  return `/ui/inventory/${encodeURIComponent(location)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The location and key a detail path names, or undefined (the listing itself). */
export function parseDetailPath(path: string): { readonly location: string; readonly key: string } | undefined {
  const match = /^\/ui\/inventory\/([^/]+)\/(.+)$/.exec(path);
  if (match === null) return undefined;
  try {
    return { location: decodeURIComponent(match[1]!), key: match[2]!.split('/').map(decodeURIComponent).join('/') };
  } catch {
    return undefined;
  }
}
