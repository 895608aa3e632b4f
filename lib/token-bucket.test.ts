import { describe, expect, test } from "bun:test";
import { TokenBuckets } from "./token-bucket.ts";

function takeMany(buckets: TokenBuckets, key: string, count: number, now: number): boolean[] {
  return Array.from({ length: count }, () => buckets.take(key, now).allowed);
}

describe("TokenBuckets", () => {
  test("a key spends its burst at once, then is refused with the time until a token is back", () => {
    const buckets = new TokenBuckets({ burst: 3, perSecond: 2 });
    expect(takeMany(buckets, "a", 3, 1000)).toEqual([true, true, true]);
    expect(buckets.take("a", 1000)).toEqual({ allowed: false, retryAfterMs: 500 });
    expect(buckets.take("a", 1250)).toEqual({ allowed: false, retryAfterMs: 250 });
  });

  test("tokens come back at the rate, never above the burst", () => {
    const buckets = new TokenBuckets({ burst: 2, perSecond: 1 });
    takeMany(buckets, "a", 2, 0);
    expect(buckets.take("a", 1000).allowed).toBe(true);
    expect(buckets.take("a", 1000).allowed).toBe(false);
    // A long quiet spell refills to the burst only.
    expect(takeMany(buckets, "a", 3, 60_000)).toEqual([true, true, false]);
  });

  test("keys do not share a bucket", () => {
    const buckets = new TokenBuckets({ burst: 1, perSecond: 1 });
    expect(buckets.take("a", 0).allowed).toBe(true);
    expect(buckets.take("a", 0).allowed).toBe(false);
    expect(buckets.take("b", 0).allowed).toBe(true);
  });

  test("a bucket refilled whole is dropped: idle keys cost no memory", () => {
    const buckets = new TokenBuckets({ burst: 2, perSecond: 1 });
    for (let i = 0; i < 100; i++) buckets.take(`addr-${i}`, 0);
    expect(buckets.size).toBe(100);
    // One second later every bucket is full again; the next take sweeps them.
    buckets.take("late", 1000);
    expect(buckets.size).toBe(1);
  });

  test("keys cycled faster than they refill stay within maxKeys, the least recently used going first", () => {
    const buckets = new TokenBuckets({ burst: 5, perSecond: 0.001 }, { maxKeys: 50 });
    takeMany(buckets, "busy", 5, 0);
    for (let i = 0; i < 10_000; i++) {
      buckets.take(`cycled-${i}`, 0);
      if (i % 10 === 0) buckets.take("busy", 0); // kept recently used: not evicted
    }
    expect(buckets.size).toBe(50);
    expect(buckets.take("busy", 0).allowed).toBe(false);
  });

  test("refuses a rate that could never allow anything", () => {
    expect(() => new TokenBuckets({ burst: 0, perSecond: 1 })).toThrow(/burst/);
    expect(() => new TokenBuckets({ burst: 1, perSecond: 0 })).toThrow(/perSecond/);
  });
});
