// Benchmark output in the format docs/performance.md describes: a table for people, then as
// the last line one JSON object {bench, value, unit, limit, ratio} where
// `limit` is this machine's raw ceiling measured in the same run.

export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  limit: number;
  /** Further figures of the same run, for docs/performance.md (kept after the fixed keys). */
  extra?: Record<string, number>;
}

export function printTable(title: string, rows: [string, string | number][]): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\n${title}`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(width)}  ${typeof value === "number" ? formatNumber(value) : value}`);
}

export function printResult(result: BenchResult): void {
  const { extra, ...fixed } = result;
  console.log(JSON.stringify({ ...fixed, ratio: round(result.value / result.limit, 3), ...extra }));
}

export function formatNumber(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(3);
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The p-th percentile (0..100) of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
