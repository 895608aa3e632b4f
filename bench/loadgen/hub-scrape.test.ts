// The lag quantile the load generator reports from the hub's histogram:
// histogram_quantile's estimate, over the events between two scrapes only.
import { expect, test } from "bun:test";
import { histogramQuantile, lagBetween, type HubScrape } from "./hub-scrape.ts";

const scrape = (lagBuckets: [number, number][]): HubScrape => ({ at: 0, lagBuckets, rssBytes: null, dropped: 0, received: 0 });

test("a quantile is interpolated within the bucket that holds its rank; past the last finite bound it is that bound", () => {
  const cumulative: [number, number][] = [[0.1, 50], [1, 90], [2.5, 100], [Infinity, 100]];
  expect(histogramQuantile(cumulative, 0.5)).toBeCloseTo(0.1);
  expect(histogramQuantile(cumulative, 0.7)).toBeCloseTo(0.1 + 0.9 * (20 / 40));
  expect(histogramQuantile(cumulative, 0.99)).toBeCloseTo(1 + 1.5 * (9 / 10));
  expect(histogramQuantile([[1, 0], [Infinity, 10]], 0.5)).toBe(1);
});

test("only the events between the two scrapes count", () => {
  const before = scrape([[0.1, 1000], [1, 1000], [Infinity, 1000]]);
  const after = scrape([[0.1, 1000], [1, 1010], [Infinity, 1010]]);
  const lag = lagBetween(before, after, 0.5);
  expect(lag.count).toBe(10);
  expect(lag.seconds).toBeGreaterThan(0.1); // all ten were slower than 0.1 s, whatever came before
  expect(lagBetween(after, after, 0.5)).toEqual({ count: 0, seconds: NaN });
});
