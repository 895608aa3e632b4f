// What the load generator reads from the hub's GET /metrics: the ingest lag
// histogram (edgefed_ingest_lag_seconds, from the node's `ts` to the registry
// commit that holds the event, observed by the hub for every verdict event
// and decision ack before it acknowledges it), the hub's RSS and its
// dropped-message count. The lag is measured there rather than by polling
// node views: it counts every event, not a sample, at the moment of the
// commit, costs the hub one scrape per report instead of an HTTP request
// per sampled node, and its 1 s bucket bound answers "p99 under 1 s" exactly.
// Its price: quantiles only as fine as the buckets (interpolated within one,
// as Prometheus's histogram_quantile does), and heartbeats are not in it
// (they reach the registry with the periodic flush, not one by one).
import { parsePrometheusText } from "../../test/support/prometheus-text.ts";

export interface HubScrape {
  at: number;
  /** Cumulative count per upper bound (seconds, ascending, +Inf last) of the verdict events' lag. */
  lagBuckets: [number, number][];
  rssBytes: number | null;
  dropped: number;
  received: number;
}

const LAG_KIND = "verdicts";

export async function scrapeHub(hubUrl: string, token: string, ca: string): Promise<HubScrape> {
  const response = await fetch(new URL("/metrics", hubUrl), {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
    ...(ca ? { tls: { ca } } : {}),
  });
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`);
  const { samples } = parsePrometheusText(await response.text());
  const lagBuckets: [number, number][] = samples
    .filter((s) => s.name === "edgefed_ingest_lag_seconds_bucket" && s.labels.kind === LAG_KIND)
    .map((s) => [s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), s.value] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const one = (name: string) => samples.find((s) => s.name === name)?.value ?? null;
  const dropped = samples.filter((s) => s.name === "edgefed_ingest_dropped_total").reduce((sum, s) => sum + s.value, 0);
  return { at: Date.now(), lagBuckets, rssBytes: one("process_resident_memory_bytes"), dropped, received: one("edgefed_ingest_received_total") ?? 0 };
}

/** Every replica's scrape at once, summed: lag counts per bucket, RSS, drops and receipts (throws if one does not answer). */
export async function scrapeHubs(hubUrls: string[], token: string, ca: string): Promise<HubScrape> {
  const scrapes = await Promise.all(hubUrls.map((url) => scrapeHub(url, token, ca)));
  const total = (of: (scrape: HubScrape) => number) => scrapes.reduce((sum, scrape) => sum + of(scrape), 0);
  const bounds = scrapes[0]?.lagBuckets.map(([le]) => le) ?? [];
  return {
    at: Date.now(),
    lagBuckets: bounds.map((le) => [le, total((s) => s.lagBuckets.find(([b]) => b === le)?.[1] ?? 0)]),
    rssBytes: scrapes.every((s) => s.rssBytes !== null) ? total((s) => s.rssBytes!) : null,
    dropped: total((s) => s.dropped),
    received: total((s) => s.received),
  };
}

/** Events observed between two scrapes, and the q-quantile (0..1) of their lag in seconds (NaN without events). */
export function lagBetween(before: HubScrape | null, after: HubScrape, q: number): { count: number; seconds: number } {
  const counts = after.lagBuckets.map(([le, count]) => [le, count - (before?.lagBuckets.find(([b]) => b === le)?.[1] ?? 0)] as [number, number]);
  const total = counts.at(-1)?.[1] ?? 0;
  return { count: total, seconds: total > 0 ? histogramQuantile(counts, q) : NaN };
}

/**
 * histogram_quantile's estimate: the bucket holding rank q * total, linearly
 * interpolated between its bounds; in the +Inf bucket, the highest finite bound.
 */
export function histogramQuantile(cumulative: [number, number][], q: number): number {
  const rank = q * cumulative.at(-1)![1];
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of cumulative) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / Math.max(1, count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
