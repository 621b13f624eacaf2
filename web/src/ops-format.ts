/** Numbers the operations pages show: money, shares, scores. */

export function formatUsd(amount: number): string {
  if (!Number.isFinite(amount)) return '—';
  const abs = Math.abs(amount);
  const digits = abs === 0 ? 2 : abs < 0.01 ? 6 : abs < 1 ? 4 : 2;
  return `${amount < 0 ? '−' : ''}$${abs.toFixed(digits)}`;
}

/** 0.123 → "12.3 %". */
export function formatShare(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(1)} %` : '—';
}

/** "+12.3 %" over a reference (0 → "±0 %"). */
export function formatOver(share: number): string {
  if (!Number.isFinite(share)) return '—';
  if (Math.abs(share) < 0.0005) return '±0 %';
  return `${share > 0 ? '+' : '−'}${Math.abs(share * 100).toFixed(1)} %`;
}
