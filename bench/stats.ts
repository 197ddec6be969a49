/**
 * Order statistics of repeated trials: median and p95 (nearest rank), and the ratio of two
 * medians. Every figure the benchmarks report is one of these.
 */

/** A sample's size, median, p95, minimum and maximum. */
export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

/** The p-th percentile (0 < p <= 100) by nearest rank; NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** The median; the mean of the two middle values for an even sample. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    median: median(values),
    p95: percentile(values, 95),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** Runs `a` and `b` `trials` times each, alternating which goes first, and returns both samples. */
export async function interleave(
  trials: number,
  a: (trial: number) => Promise<number>,
  b: (trial: number) => Promise<number>,
): Promise<{ a: number[]; b: number[] }> {
  const samples = { a: [] as number[], b: [] as number[] };
  for (let trial = 0; trial < trials; trial++) {
    if (trial % 2 === 0) {
      samples.a.push(await a(trial));
      samples.b.push(await b(trial));
    } else {
      samples.b.push(await b(trial));
      samples.a.push(await a(trial));
    }
  }
  return samples;
}
