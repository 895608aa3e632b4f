import { describe, expect, test } from "bun:test";
import { backoffMs } from "./backoff.ts";

describe("backoffMs", () => {
  test("grows exponentially to the cap, half of it random", () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffMs(n, 1000, 60_000, () => 0))).toEqual([500, 1000, 2000, 4000, 30_000]);
    expect([0, 1, 2, 3, 10].map((n) => backoffMs(n, 1000, 60_000, () => 1))).toEqual([1000, 2000, 4000, 8000, 60_000]);
    expect(backoffMs(1000, 1000, 60_000, () => 0.5)).toBe(45_000);
  });
});
